"""`modelyard promote | rollback | promotions | gate` against a live server."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard.registry.models import Alias
from tests.fixtures.cli import Cli


def production() -> int:
    return Alias.objects.select_related("version").get(name="production").version.version


def test_promote_through_the_gate_then_roll_back(
    cli: Cli, register_model, estimators, evaluation_data
) -> None:
    register_model(estimators["weak"])
    register_model(estimators["good"])
    gate = cli("gate", "red/churn", "--metric", "roc_auc", "--evaluate-on", "red/holdout:1")
    assert "red/holdout:1" in gate.stdout

    cli("promote", "red/churn", "1")
    said = cli("promote", "red/churn", "2", "--reason", "better").stdout

    assert "red/churn@production: 1 -> 2 (promoted)" in said
    assert "pass  champion: roc_auc" in said
    assert production() == 2
    rolled = cli("rollback", "red/churn", "--env", "production", user="bob").stdout
    assert "2 -> 1 (rolled_back)" in rolled
    assert production() == 1
    history = cli.json("promotions", "red/churn")
    assert [row["outcome"] for row in history] == ["rolled_back", "promoted", "promoted"]


def test_a_refusal_prints_the_report_and_fails(
    cli: Cli, register_model, estimators, evaluation_data
) -> None:
    register_model(estimators["good"])
    register_model(estimators["weak"])
    cli("gate", "red/churn", "--evaluate-on", "red/holdout:1", "--metric", "roc_auc")
    cli("promote", "red/churn", "1")

    output = cli.fails("promote", "red/churn", "2")

    assert "FAIL  champion: roc_auc" in output
    assert "override with --force" in output
    assert production() == 1
    forced = cli.fails("promote", "red/churn", "2", "--force", "--reason", "x", user="bob")
    assert "Only owners of team 'red'" in forced


def test_register_with_an_example_from_a_file(cli: Cli, tmp_path: Path) -> None:
    example = tmp_path / "example.json"
    example.write_text(json.dumps([[1.0, 2.0]]))
    model = tmp_path / "model.bin"
    model.write_bytes(b"m")

    cli("models", "register", "red/tiny", str(model), "--example", f"@{example}")

    assert cli.json("models", "show", "red/tiny:1")["input_example"] == [[1.0, 2.0]]
    bad = cli.fails("models", "register", "red/tiny", str(model), "--example", '{"a": 1}')
    assert "list of rows" in bad
