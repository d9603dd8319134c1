"""The dispatcher: global, team and command caps; finished runs free their slot; lost
workers' slots are reclaimed after the heartbeat timeout. Its lock protocol has tests of its
own (test_dispatch_lock.py); these go through the public services only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from modelyard.accounts.services import create_team
from modelyard.jobs import projects, services
from modelyard.jobs.models import Command, Run, RunState
from tests.jobs.conftest import spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def commands(teams, settings) -> list[Command]:
    """Eight commands in team red, four in team green, one queued run each."""
    green = create_team(None, "green")
    from modelyard.accounts.services import set_membership

    set_membership(None, green, teams["alice"], "owner")
    projects.apply(teams["alice"], spec("\n".join(f"c{i}: {{}}" for i in range(8))))
    projects.apply(
        teams["alice"], spec("\n".join(f"g{i}: {{}}" for i in range(4)), project="g", team="green")
    )
    found = list(Command.objects.order_by("id"))
    for command in found:
        services.request_run(command, "manual")
    return found


def running() -> int:
    return Run.objects.filter(state=RunState.RUNNING).count()


def test_the_global_cap_is_never_exceeded(commands, settings) -> None:
    settings.MAX_CONCURRENT_RUNS = 5

    assert len(services.dispatch()) == 5
    assert services.dispatch() == []
    assert running() == 5


def test_a_team_gets_no_more_than_its_cap(commands, settings) -> None:
    settings.MAX_CONCURRENT_RUNS, settings.MAX_RUNS_PER_TEAM = 10, 3

    services.dispatch()

    by_team = sorted(Run.objects.filter(state="running").values_list("team__name", flat=True))
    assert by_team == ["green"] * 3 + ["red"] * 3


def test_a_command_runs_no_more_than_its_concurrency(teams, settings) -> None:
    projects.apply(teams["alice"], spec("c:\n  concurrency: 2\n"))
    command = Command.objects.get()
    for _ in range(3):
        services.request_run(command, "manual")
        services.dispatch()

    assert running() == 2
    assert Run.objects.filter(state=RunState.QUEUED).count() == 1


def test_a_finished_run_frees_its_slot(commands, settings) -> None:
    settings.MAX_CONCURRENT_RUNS = 2
    first, _second = services.dispatch()

    services.finish(first, RunState.SUCCEEDED, exit_code=0)

    assert len(services.dispatch()) == 1
    assert running() == 2
    assert Run.objects.get(pk=first).state == RunState.SUCCEEDED


def test_a_lost_worker_gives_its_slot_back(commands, settings) -> None:
    settings.MAX_CONCURRENT_RUNS, settings.RUN_HEARTBEAT_TIMEOUT = 1, 60
    (lost,) = services.dispatch()
    services.claim_execution(lost, "host:1:1")
    later = timezone.now() + timedelta(seconds=61)

    started = services.dispatch(later)

    assert len(started) == 1
    assert started[0] != lost
    run = Run.objects.get(pk=lost)
    assert run.state == RunState.FAILED
    assert "stopped answering" in run.error


def test_a_run_no_worker_took_says_to_start_a_runs_worker(commands, settings) -> None:
    settings.MAX_CONCURRENT_RUNS, settings.RUN_HEARTBEAT_TIMEOUT = 1, 60
    (unclaimed,) = services.dispatch()

    services.dispatch(timezone.now() + timedelta(seconds=61))

    run = Run.objects.get(pk=unclaimed)
    assert run.state == RunState.FAILED
    assert "No worker took it from the `runs` queue" in run.error
    assert "--run-slots" in run.error


def test_a_lost_run_with_attempts_left_is_queued_again(teams, settings) -> None:
    settings.RUN_HEARTBEAT_TIMEOUT = 60
    projects.apply(teams["alice"], spec("c:\n  retries: 1\n"))
    run, _ = services.request_run(Command.objects.get(), "manual")
    services.dispatch()

    services.dispatch(timezone.now() + timedelta(seconds=61))

    run.refresh_from_db()
    assert (run.state, run.attempt) == (RunState.QUEUED, 1)
    assert run.not_before is not None


def test_cancel_and_rerun_through_the_api(alice, bob, mallory, commands) -> None:
    queued = Run.objects.filter(state="queued").order_by("id").first()

    assert mallory.post(f"/runs/{queued.pk}/cancel").status_code == 403
    cancelled = bob.post(f"/runs/{queued.pk}/cancel").json()
    assert cancelled["state"] == "cancelled"
    assert alice.post(f"/runs/{queued.pk}/cancel").status_code == 409
    again = alice.post(f"/runs/{queued.pk}/rerun")
    assert again.status_code == 201
    assert again.json()["reason"] == "rerun"
    listed = alice.get("/runs", project="red/churn", state="queued").json()
    assert listed["count"] == 8
