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


# --- mail that fails (finding 11.8) ---------------------------------------------------------


def run_result(*args: str):
    return CliRunner().invoke(cli, ["lifecycle", *args])


@pytest.mark.integration
def test_a_mail_failure_is_one_line_and_a_later_scan_or_send_delivers(
    stale, clock, refusing_smtp, smtp_server, settings
) -> None:
    from modelyard.lifecycle.models import Notice

    result = run_result("scan")  # day 100: first notices to alice and bob; the server says 451
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("4 notices could not be sent: mail to ")
    assert "451" in line
    assert line.endswith("they will be retried by the worker, or run `modelyard lifecycle send`.")
    assert state(stale[0]) == LifecycleState.NOTICED  # the scan committed
    assert Notice.objects.filter(sent_at__isnull=True).count() == 4

    settings.EMAIL_PORT = smtp_server.port  # the mail server is back
    smtp_server.clear()
    result = run_result("scan")  # nothing new is due, but what is unsent goes out
    assert result.exit_code == 0, result.output
    assert "2 email(s) sent" in result.output
    assert sorted(m.rcpt_tos[0] for m in smtp_server.wait_for(2)) == [
        "alice@example.com",
        "bob@example.com",
    ]
    assert not Notice.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.integration
def test_send_delivers_pending_notices_once(stale, clock, smtp_settings) -> None:
    clock.scan(31)  # planned, not sent
    result = run_result("send", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "emails_sent": 2,
        "notices_sent": 4,
        "unsent": 0,
        "failures": [],
    }
    assert len(smtp_settings.wait_for(2)) == 2
    result = run_result("send")
    assert result.stdout.strip() == "0 email(s) sent for 0 notice(s)."
    assert len(smtp_settings.messages) == 2


@pytest.mark.integration
def test_send_failure_exits_3_with_one_line(stale, clock, refusing_smtp) -> None:
    clock.scan(31)
    result = run_result("send")
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert "could not be sent" in result.stderr
    assert "modelyard lifecycle send" in result.stderr
