"""Moving aliases and reading versions through them."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.cli import Cli, write


def test_alias_then_show_through_it(cli: Cli, tmp_path: Path) -> None:
    cli("models", "register", "red/churn", str(write(tmp_path / "v1.bin", b"1")))
    cli("models", "register", "red/churn", str(write(tmp_path / "v2.bin", b"2")))

    said = cli("models", "alias", "red/churn", "champion", "1", "--reason", "beats v0").stdout

    assert "red/churn@champion" in said
    version = cli.json("models", "show", "red/churn@champion")
    assert version["ref"] == "red/churn:1"
    assert version["aliases"] == ["champion"]
    assert cli.json("models", "show", "red/churn")["aliases"] == {"champion": 1}
    assert "champion" in cli("models", "show", "red/churn").stdout


def test_environment_aliases_of_models_go_through_the_gate(cli: Cli, tmp_path: Path) -> None:
    cli("models", "register", "red/churn", str(write(tmp_path / "v1.bin", b"1")))

    output = cli.fails("models", "alias", "red/churn", "production", "1")

    assert "modelyard promote red/churn 1 --to production" in output
    assert cli.json("models", "show", "red/churn")["aliases"] == {}


def test_alias_works_for_every_kind(cli: Cli, tmp_path: Path) -> None:
    cli("featuresets", "register", "red/users", str(write(tmp_path / "f.parquet", b"f")))

    cli("featuresets", "alias", "red/users", "current", "1")

    assert cli.json("featuresets", "show", "red/users@current")["version"] == 1


def test_only_owners_move_aliases(cli: Cli, tmp_path: Path) -> None:
    cli("models", "register", "red/churn", str(write(tmp_path / "v1.bin", b"1")))

    output = cli.fails("models", "alias", "red/churn", "champion", "1", user="bob")

    assert "Only owners of team 'red'" in output
