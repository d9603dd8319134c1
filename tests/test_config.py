"""Typed environment parsing: every bad value names its variable."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from modelyard import config


def test_int_parsing_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_X", "ten")
    with pytest.raises(config.ConfigError, match="MODELYARD_X='ten' is not an integer"):
        config.env_int("MODELYARD_X", 1)


def test_bool_and_list_and_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_B", "yes")
    monkeypatch.setenv("MODELYARD_L", "a@x.org, b@x.org,")
    monkeypatch.setenv("MODELYARD_ENVIRONMENT", "prod")
    assert config.env_bool("MODELYARD_B", False) is True
    assert config.env_list("MODELYARD_L") == ["a@x.org", "b@x.org"]
    with pytest.raises(config.ConfigError, match="dev, staging, production"):
        config.env_choice("MODELYARD_ENVIRONMENT", "dev", config.ENVIRONMENTS)


def test_minimums(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_F", "0.01")
    with pytest.raises(config.ConfigError, match="below the minimum"):
        config.env_float("MODELYARD_F", 5.0, minimum=0.1)


def test_secret_key_is_generated_once_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELYARD_SECRET_KEY", raising=False)
    first = config.secret_key(tmp_path)
    assert first == config.secret_key(tmp_path)
    assert len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_defaults_live_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODELYARD_DATABASE_URL", "MODELYARD_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    assert config.database_url(tmp_path) == f"sqlite:///{tmp_path}/modelyard.sqlite3"
    assert config.artifact_root(tmp_path) == (tmp_path / "artifacts").as_uri()


def test_redis_defaults_to_a_redis_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_REDIS_URL", raising=False)
    assert config.redis_url("redis://broker:6379/0") == "redis://broker:6379/0"
    assert config.redis_url("filesystem://localhost/") == ""
    monkeypatch.setenv("MODELYARD_REDIS_URL", "redis://cache:6379/2")
    assert config.redis_url("redis://broker:6379/0") == "redis://cache:6379/2"


def test_a_secret_is_taken_exactly_as_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_HIVE_PASSWORD", " pass word ")
    assert config.env_secret("MODELYARD_HIVE_PASSWORD") == " pass word "
    monkeypatch.setenv("MODELYARD_HIVE_PASSWORD", "")
    assert config.env_secret("MODELYARD_HIVE_PASSWORD") is None


def test_a_login_is_private_even_over_an_open_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "modelyard").mkdir()
    (tmp_path / "modelyard" / "logins.json").write_text('{"default": null, "tokens": {}}')
    (tmp_path / "modelyard" / "logins.json").chmod(0o644)

    path = config.save_login("http://a.example/", "my_a")

    assert path == config.logins_path() == tmp_path / "modelyard" / "logins.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert config.login_url() == "http://a.example"
    assert config.login_token("http://a.example") == "my_a"


def test_each_server_keeps_its_own_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config.save_login("http://a.example", "my_a")
    config.save_login("http://b.example", "my_b")

    assert config.login_url() == "http://b.example"
    assert config.login_token("http://a.example") == "my_a"
    assert config.login_token("http://c.example") is None


def test_the_config_folder_defaults_to_dot_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert config.user_config_dir() == Path.home() / ".config" / "modelyard"


def test_a_damaged_logins_file_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "modelyard").mkdir()
    (tmp_path / "modelyard" / "logins.json").write_text("not json")

    with pytest.raises(config.ConfigError, match="delete it and sign in again"):
        config.login_url()


# --- every variable modelyard reads is in the README's configuration table -------------------

REPOSITORY = Path(__file__).resolve().parent.parent
# The operating system's own, passed through to a run's process: not configuration.
OPERATING_SYSTEM = {"PATH"}
_ENV_HELPERS = {
    "env_str",
    "env_int",
    "env_float",
    "env_bool",
    "env_list",
    "env_choice",
    "env_secret",
}


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def variables_read(tree: ast.AST) -> set[str]:
    """Names read with a literal: os.environ.get/[...], os.getenv, `in os.environ`, env_*()."""
    names = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call):
            function = node.func
            called = (
                function.attr
                if isinstance(function, ast.Attribute)
                else getattr(function, "id", None)
            )
            reads_environ = called == "get" and _is_os_environ(getattr(function, "value", None))
            if reads_environ or called == "getenv" or called in _ENV_HELPERS:
                name = _literal(node.args[0]) if node.args else None
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            if isinstance(node.ctx, ast.Load):
                name = _literal(node.slice)
        elif isinstance(node, ast.Compare) and any(_is_os_environ(c) for c in node.comparators):
            name = _literal(node.left)
        if name:
            names.add(name)
    return names


def readme_variables() -> set[str]:
    section = (REPOSITORY / "README.md").read_text().split("## Configuration", 1)[1]
    table = section.split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_the_scanner_finds_every_way_of_reading() -> None:
    source = """
import os
from modelyard import config
a = os.environ.get("A_GET")
b = os.environ["B_ITEM"]
c = os.getenv("C_GETENV")
d = "D_IN" in os.environ
e = config.env_int("E_HELPER", 1)
f = env_str("F_HELPER", "")
os.environ["NOT_A_READ"] = "1"
os.environ.setdefault("NOT_A_READ_EITHER", "1")
"""
    assert variables_read(ast.parse(source)) == {
        "A_GET",
        "B_ITEM",
        "C_GETENV",
        "D_IN",
        "E_HELPER",
        "F_HELPER",
    }


def test_every_variable_read_in_src_is_in_the_readme_table() -> None:
    listed = readme_variables()
    unlisted = {
        f"{name} ({path.relative_to(REPOSITORY)})"
        for path in (REPOSITORY / "src").rglob("*.py")
        for name in variables_read(ast.parse(path.read_text()))
        if name not in listed | OPERATING_SYSTEM
    }
    assert not unlisted, f"add these to the README's configuration table: {sorted(unlisted)}"
