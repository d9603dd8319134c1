"""Typed environment parsing: every bad value names its variable."""

from __future__ import annotations

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
