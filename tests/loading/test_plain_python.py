"""The loading package is plain Python: importing all of it pulls in no Django and no app."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import modelyard.loading

APPS = ("accounts", "api", "audit", "cli", "deployment", "jobs", "lifecycle", "registry")
APPS += ("scoring", "serving")


def test_importing_every_loading_module_imports_no_django_and_no_app():
    modules = [
        f"modelyard.loading.{m.name}" for m in pkgutil.iter_modules(modelyard.loading.__path__)
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = done.stdout.split()

    assert "modelyard.loading.sandbox" in loaded
    assert not [name for name in loaded if name == "django" or name.startswith("django.")]
    assert not [name for name in loaded if name.split(".")[:2] in [["modelyard", a] for a in APPS]]
