"""`delete_on`: from the policy in force and the notices sent, never stale, never early.

Finding 11.7: after a policy moved deletion from 60 to 90 days the team page still showed the
date written when the notice was planned (a past date), and the API and CLI showed none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from modelyard.lifecycle.dates import Timeline, delete_on
from modelyard.lifecycle.policies import Thresholds
from modelyard.lifecycle.services import set_policy
from modelyard.registry.models import AssetVersion, LifecycleState
from tests.fixtures.cli import Cli, write

DAY = timedelta(days=1)
START = datetime(2026, 6, 1, tzinfo=timezone.get_default_timezone())


def timeline(state: str, first: float | None = None, final: float | None = None) -> Timeline:
    """Last used on START; notices sent on the given day numbers."""
    return Timeline(
        state,
        START,
        None,
        START + first * DAY if first is not None else None,
        START + final * DAY if final is not None else None,
    )


def day(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - START) / DAY


POLICY_60 = Thresholds(30, 50, 60, 10)
POLICY_90 = Thresholds(30, 50, 90, 10)
POLICY_40 = Thresholds(20, 30, 40, 10)


def test_active_and_gone_versions_have_no_date() -> None:
    for state in (LifecycleState.ACTIVE, LifecycleState.DELETING, LifecycleState.DELETED):
        assert delete_on(timeline(state, 31, 51), POLICY_60, START + 55 * DAY) is None


def test_noticed_version_is_due_after_final_notice_and_grace() -> None:
    noticed = timeline(LifecycleState.NOTICED, first=31)
    assert day(delete_on(noticed, POLICY_60, START + 35 * DAY)) == 61  # final on 51, +10


def test_policy_moved_from_60_to_90_days_moves_the_date_later() -> None:
    noticed, final = timeline(LifecycleState.NOTICED, 31), timeline("final_notice", 31, 51)
    at = START + 52 * DAY
    assert day(delete_on(final, POLICY_60, at)) == 61
    assert day(delete_on(final, POLICY_90, at)) == 90
    assert day(delete_on(noticed, POLICY_90, at)) == 90


def test_policy_shortened_to_40_days_never_comes_before_final_notice_plus_grace() -> None:
    final = timeline(LifecycleState.FINAL_NOTICE, first=31, final=51)
    assert day(delete_on(final, POLICY_40, START + 52 * DAY)) == 61  # not day 40
    noticed = timeline(LifecycleState.NOTICED, first=31)
    # The final notice cannot have gone before today (day 45): deletion 10 days after it.
    assert day(delete_on(noticed, POLICY_40, START + 45 * DAY)) == 55


def test_a_past_date_is_never_shown_as_still_to_come() -> None:
    final = timeline(LifecycleState.FINAL_NOTICE, first=31, final=51)
    at = START + 75 * DAY  # due since day 61; the next scan deletes it
    assert delete_on(final, POLICY_60, at) == at
    noticed_long_ago = timeline(LifecycleState.NOTICED, first=31)
    assert day(delete_on(noticed_long_ago, POLICY_60, at)) == 85  # final notice today + 10


def test_an_unsent_notice_counts_as_sent_now() -> None:
    planned = timeline(LifecycleState.NOTICED)  # the scan wrote the ledger; mail not out yet
    assert day(delete_on(planned, POLICY_60, START + 40 * DAY)) == 40 + 20 + 10


# --- where the date is shown --------------------------------------------------------------


@pytest.fixture
def noticed(cli: Cli, tmp_path) -> AssetVersion:
    """red/churn:1 unused for 45 days, its first notice sent 14 days ago."""
    model = str(write(tmp_path / "m.bin", b"x" * 10))
    with cli.client() as client:
        client.create_asset("model", "red", "churn")
    cli(
        "models", "register", "red/churn", model, "--created-at", "45d", "--last-accessed-at", "45d"
    )
    now = timezone.now()
    AssetVersion.objects.update(
        lifecycle_state=LifecycleState.NOTICED, notice_sent_at=now - 14 * DAY
    )
    return AssetVersion.objects.get()


def test_api_and_cli_show_the_date_and_follow_a_policy_change(noticed, cli: Cli) -> None:
    used = noticed.last_accessed_at
    body = cli.json("models", "show", "red/churn:1")
    # Noticed on day 31: the final notice on day 51, deletion 10 days of grace later.
    assert body["delete_on"][:10] == f"{used + 61 * DAY:%Y-%m-%d}"
    set_policy("test", first=30, final=50, delete=90, grace=10)
    body = cli.json("models", "show", "red/churn:1")
    assert body["delete_on"][:10] == f"{used + 90 * DAY:%Y-%m-%d}"
    listed = cli.json("models", "versions", "red/churn")
    assert listed[0]["delete_on"] == body["delete_on"]
    assert f"{used + 90 * DAY:%Y-%m-%d}" in cli("models", "show", "red/churn:1").stdout
    assert f"{used + 90 * DAY:%Y-%m-%d}" in cli("models", "versions", "red/churn").stdout


def test_active_version_has_a_null_date_in_the_api(noticed, cli: Cli) -> None:
    AssetVersion.objects.update(lifecycle_state=LifecycleState.ACTIVE, notice_sent_at=None)
    assert cli.json("models", "show", "red/churn:1")["delete_on"] is None


def test_the_mail_gives_the_date_of_the_policy_in_force_when_it_is_sent(
    stale, clock, mailoutbox
) -> None:
    clock.scan(31)  # the ledger plans deletion on day 61
    set_policy("test", first=30, final=50, delete=90, grace=10)
    clock.send(31)
    body = mailoutbox[0].body
    assert f"will be deleted on {clock.at(90):%Y-%m-%d}" in body
    assert f"{clock.at(61):%Y-%m-%d}" not in body


def test_the_date_a_planned_notice_announces() -> None:
    """How the scan asks for the date of the notice it is planning (see Timeline.after_notice)."""
    row = {
        "lifecycle_state": LifecycleState.ACTIVE,
        "last_accessed_at": START,
        "kept_at": None,
        "notice_sent_at": None,
        "final_notice_sent_at": None,
    }
    first = Timeline.after_notice(row, LifecycleState.NOTICED)
    assert day(delete_on(first, POLICY_60, START + 31 * DAY)) == 61
    # 50/60 days with 15 days of grace: the final notice on day 50 leaves deletion on day 65.
    assert day(delete_on(first, Thresholds(30, 50, 60, 15), START + 30 * DAY)) == 65
    noticed = {**row, "lifecycle_state": LifecycleState.NOTICED, "notice_sent_at": START + 31 * DAY}
    final = Timeline.after_notice(noticed, LifecycleState.FINAL_NOTICE)
    assert day(delete_on(final, POLICY_60, START + 51 * DAY)) == 61
