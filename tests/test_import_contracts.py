"""The import contracts in pyproject.toml hold, and a new import that breaks one fails the
check `make lint` runs (lint-imports), on a copy of the package with one bad module added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the project's contracts, analysing the package under source_root."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(REPOSITORY / "pyproject.toml")],
        env={**os.environ, "PYTHONPATH": str(source_root)},
        cwd=source_root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    shutil.copytree(
        REPOSITORY / "src" / "modelyard",
        root / "modelyard",
        ignore=shutil.ignore_patterns("__pycache__", "templates", "static", "migrations"),
    )
    return root


def test_the_package_keeps_its_contracts(package_copy: Path) -> None:
    result = lint_imports(package_copy)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "shown"),
    [
        (
            "registry/shortcut.py",
            "from modelyard.lifecycle import scan",
            "The registry imports no app built on it BROKEN",
            "modelyard.registry.shortcut -> modelyard.lifecycle.scan",
        ),
        (
            "storage/shortcut.py",
            "from modelyard.registry import models",
            "storage, lib and the model-loading package import no app BROKEN",
            "modelyard.storage.shortcut -> modelyard.registry.models",
        ),
        (
            "serving/shortcut.py",
            "from modelyard.registry import views",
            "The prediction server imports no Django view and not the API BROKEN",
            "modelyard.serving.shortcut -> modelyard.registry.views",
        ),
        (
            "audit/shortcut.py",
            "from modelyard.lifecycle import services",
            "modelyard.audit is not allowed to import modelyard.lifecycle",
            "modelyard.audit.shortcut -> modelyard.lifecycle.services",
        ),
        (  # the cycle this branch removed: supervise took the token helpers from operate
            "cli/supervise.py",
            "from modelyard.cli import operate",
            "No import cycle between the modules of an app BROKEN",
            ".supervise -> .operate",
        ),
    ],
)
def test_a_new_import_against_a_contract_fails_the_check(
    package_copy: Path, module: str, line: str, contract: str, shown: str
) -> None:
    path = package_copy / "modelyard" / module
    before = path.read_text() if path.exists() else None
    path.write_text((before or "") + f"\n{line}  # a shortcut the contracts forbid\n")
    try:
        result = lint_imports(package_copy)
    finally:
        if before is None:
            path.unlink()
        else:
            path.write_text(before)

    assert result.returncode == 1, result.stdout
    assert contract in result.stdout
    assert shown in result.stdout
