"""`modelyard lifecycle …` as an operator runs it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from modelyard.cli.main import cli
from modelyard.registry.models import LifecycleState
from tests.lifecycle.conftest import state

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["lifecycle", *args])
    return result.exit_code, result.output


def test_dry_run_forecast_as_json(stale, clock) -> None:
    code, output = run("scan", "--dry-run", "--at", clock.at(31).isoformat(), "--json")
    assert code == 0, output
    body = json.loads(output)
    assert body["dry_run"] is True
    assert sorted(row["ref"] for row in body["planned"]) == ["red/churn:1", "red/fraud:1"]
    assert {row["action"] for row in body["planned"]} == {"first_notice"}
    assert state(stale[0]) == LifecycleState.ACTIVE


def test_real_scan_sends_and_reports(stale, clock, mailoutbox) -> None:
    code, output = run("scan")  # now is day 100 of the clock: first notices
    assert code == 0, output
    assert "first_notice  red/churn:1" in output
    assert "2 email(s) sent" in output
    assert len(mailoutbox) == 2


def test_future_scan_needs_a_flag(stale) -> None:
    code, output = run("scan", "--at", "2999-01-01")
    assert code != 0
    assert "--allow-future" in output


def test_keep_pin_hold_and_policy(stale, clock) -> None:
    assert run("keep", "red/churn:1")[1].strip() == "Kept red/churn:1."
    assert "pinned until 2099-05-01" in run("pin", "red/fraud:1", "--until", "2099-05-01")[1]
    assert "legal hold placed" in run("hold", "red/fraud:1", "--reason", "case 7")[1]
    code, output = run("hold", "red/fraud:1")
    assert code != 0
    assert "--reason" in output
    code, output = run("policy", "set", "--kind", "dataset", "--first", "10", "--final", "5")
    assert code != 0
    assert "Thresholds must grow" in output
    assert (
        run(
            "policy", "set", "--kind", "dataset", "--first", "10", "--final", "20", "--delete", "30"
        )[0]
        == 0
    )
    assert "dataset" in run("policy", "list")[1]


def test_report_counts_reclaimed_bytes(stale, clock, django_capture_on_commit_callbacks) -> None:
    clock.step(31)
    clock.step(51)
    with django_capture_on_commit_callbacks(execute=True):
        clock.step(61.5)
    _, output = run("report", "--json")
    assert json.loads(output) == [{"team": "red", "store": "file", "bytes": 200}]
