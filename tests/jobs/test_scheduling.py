"""Cron commands fire at their time in the project's zone; events queue runs, coalesced."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from modelyard.jobs import events, services
from modelyard.jobs.models import Run, RunState
from modelyard.jobs.tasks import fire_schedules
from modelyard.registry import services as registry
from modelyard.registry.models import Kind
from tests.fixtures.models import _bytes
from tests.jobs.conftest import spec

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def test_a_cron_command_fires_at_its_time_in_the_projects_zone(apply) -> None:
    with time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=PARIS), tick=False):
        apply(spec('train:\n  schedule: "0 6 * * *"\n', extra="timezone: Europe/Paris\n"))

    with time_machine.travel(datetime(2026, 11, 25, 5, 59, 50, tzinfo=PARIS), tick=False):
        assert fire_schedules() == 0
    with time_machine.travel(datetime(2026, 11, 25, 6, 0, 5, tzinfo=PARIS), tick=False):
        assert fire_schedules() == 1  # 05:00 UTC: six in Paris, not in UTC
        assert fire_schedules() == 0

    run = Run.objects.get()
    assert (run.reason, run.state, run.triggers[0]["schedule"]) == ("cron", "queued", "0 6 * * *")
    assert run.triggers[0]["at"] == "2026-11-25T05:00:00+00:00"


def test_a_burst_of_events_folds_into_one_queued_run(
    apply, recording_executor, django_capture_on_commit_callbacks
) -> None:
    apply(
        spec("""
score:
  on:
    - dataset_version_created: {dataset: events}
other:
  on:
    - dataset_version_created: {dataset: clicks}
""")
    )
    for number in range(1, 1001):
        payload = {"dataset": "red/events", "kind": "dataset", "version": f"red/events:{number}"}
        events.handle("dataset_version_created", payload, "red")

    run = Run.objects.get()
    assert (run.command.name, run.state, run.events) == ("score", RunState.QUEUED, 1000)
    assert len(run.triggers) == services.TRIGGERS_KEPT
    assert run.triggers[0]["version"] == "red/events:1"
    # Once it runs, the next event queues a new run rather than joining a running one.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.dispatch() == [run.pk]
    events.handle("dataset_version_created", {"dataset": "red/events", "version": "x"}, "red")
    assert Run.objects.filter(state=RunState.QUEUED).count() == 1
    assert recording_executor == [run.pk]


def test_registry_events_reach_the_commands_through_the_broker(
    apply, teams, django_capture_on_commit_callbacks
) -> None:
    apply(
        spec("""
score:
  on:
    - dataset_version_created: {dataset: events}
deploy:
  on:
    - model_promoted: {model: churn, alias: production}
""")
    )
    data = registry.create_asset(teams["alice"], Kind.DATASET, teams["red"], "events")
    model = registry.create_asset(teams["alice"], Kind.MODEL, teams["red"], "churn")
    with django_capture_on_commit_callbacks(execute=True):
        registry.register_version(
            teams["alice"], data, registry.VersionSpec(), [_bytes("e.csv", b"a\n1\n")]
        )
        version = registry.register_version(
            teams["alice"], model, registry.VersionSpec(), [_bytes("m.bin", b"m")]
        )
        registry.set_alias(teams["alice"], model, "staging", version)  # not listened to
        registry.set_alias(teams["alice"], model, "production", version)

    runs = {run.command.name: run for run in Run.objects.all()}
    assert set(runs) == {"score", "deploy"}
    assert runs["score"].triggers[0]["version"] == "red/events:1"
    assert runs["deploy"].triggers[0] == {
        "event": "model_promoted",
        "model": "red/churn",
        "alias": "production",
        "kind": "model",
        "version": "red/churn:1",
    }


def test_external_events_through_the_api(alice, apply, django_capture_on_commit_callbacks):
    apply(spec("refresh:\n  on:\n    - table_loaded: {table: clicks}\n"))

    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post("/events", {"event": "table_loaded", "payload": {"table": "clicks"}})
        alice.post("/events", {"event": "table_loaded", "payload": {"table": "views"}})

    assert response.status_code == 202
    assert Run.objects.get().triggers == [{"event": "table_loaded", "table": "clicks"}]
    assert alice.post("/events", {"event": "Bad Name"}).status_code == 422


def test_an_event_reads_only_the_commands_listening_to_it(apply, django_assert_num_queries) -> None:
    others = "\n".join(f"c{i}:\n  on:\n    - loaded: {{table: t{i}}}" for i in range(30))
    listeners = "exact:\n  on:\n    - loaded: {}\nlonger:\n  on:\n    - loaded_v2: {}\n"
    apply(spec(listeners + others))

    with django_assert_num_queries(1) as captured:  # found by key: no command is loaded
        assert events.handle("unheard", {"table": "t1"}, "red") == 0
    assert "jobs_listener" in captured.captured_queries[0]["sql"]
    assert events.handle("loaded", {"table": "t7"}, "red") == 2  # `exact` (any table) and `c7`
    assert events.handle("loaded_v2", {}, "red") == 1

    assert sorted(Run.objects.values_list("command__name", flat=True)) == ["c7", "exact", "longer"]


def test_an_event_folds_into_the_queued_run_in_one_update(apply, django_assert_num_queries) -> None:
    apply(spec("score:\n  on:\n    - loaded: {table: t}\n"))
    events.handle("loaded", {"table": "red/t", "n": 0}, "red")  # queues the run
    for number in range(1, services.TRIGGERS_KEPT + 5):
        with django_assert_num_queries(2):  # find the listener; fold (append and count)
            events.handle("loaded", {"table": "red/t", "n": number}, "red")

    run = Run.objects.get()
    assert run.events == services.TRIGGERS_KEPT + 5
    assert [t["n"] for t in run.triggers] == list(range(services.TRIGGERS_KEPT))


def test_reapplying_a_command_moves_what_it_listens_to(apply) -> None:
    long_value = "x" * 300  # longer than the index's column: indexed by its hash
    apply(spec("score:\n  on:\n    - first: {}\n"))
    apply(spec(f"score:\n  on:\n    - second: {{}}\n    - third: {{table: {long_value}}}\n"))

    assert events.handle("first", {}, "red") == 0
    assert events.handle("third", {"table": "y"}, "red") == 0
    assert events.handle("third", {"table": long_value, "other": "z"}, "red") == 1
