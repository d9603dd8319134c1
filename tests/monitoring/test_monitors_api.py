"""Monitors, alerts and feedback through the API: members declare, send labels and
acknowledge; outsiders are refused (and audited); an alert fires once per incident, is
acknowledged, resolves when healthy and does not fire again within its cool-down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from modelyard.audit.models import AuditEvent
from modelyard.monitoring import services
from modelyard.monitoring.models import Alert, Feedback, Monitor, WindowSummary
from modelyard.registry import services as registry
from modelyard.registry.models import Alias
from tests.fixtures.models import _bytes

pytestmark = pytest.mark.django_db
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ERRORS = {"kind": "errors", "threshold": 0.1, "window_seconds": 120, "min_samples": 10}


@pytest.fixture
def production(teams, model):
    version = registry.register_version(
        teams["alice"], model, registry.VersionSpec(), [_bytes("model.bin", b"x")]
    )
    Alias.objects.create(asset=model, name="production", version=version)
    return version


def traffic(model, version, requests: int, errors: int) -> None:
    """What the log's summaries hold after that many requests in the current minute."""
    summary, _ = WindowSummary.objects.get_or_create(
        asset=model, version=version, window_start=datetime.now(UTC).replace(second=0)
    )
    summary.requests += requests
    summary.server_errors += errors
    summary.save()


def test_members_declare_monitors_outsiders_are_refused(bob, mallory, model) -> None:
    declared = bob.put("/models/red/churn/monitors/errors", ERRORS | {"reactions": ["notify"]})
    refused = mallory.put("/models/red/churn/monitors/errors", ERRORS)
    listed = mallory.get("/models/red/churn/monitors")

    assert declared.status_code == 200, declared.json()
    assert declared.json()["reactions"] == ["notify"]
    assert refused.status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", actor_label="mallory").exists()
    assert [m["name"] for m in listed.json()] == ["errors"]


def test_bad_monitor_declarations_are_refused_with_the_reason(bob, model) -> None:
    unknown = bob.put("/models/red/churn/monitors/x", ERRORS | {"reactions": ["page"]})
    negative = bob.put("/models/red/churn/monitors/x", ERRORS | {"threshold": -1})

    assert unknown.status_code == 422
    assert negative.status_code == 422
    assert Monitor.objects.count() == 0


def test_a_drift_monitor_needs_reference_data(bob, model, production) -> None:
    response = bob.put("/models/red/churn/monitors/x", ERRORS | {"kind": "drift"})

    assert response.status_code == 400
    assert "trained_on" in response.json()["message"]
    assert Monitor.objects.count() == 0


def test_an_alert_fires_once_is_acknowledged_resolves_and_cools_down(
    bob, mallory, teams, model, production
) -> None:
    monitor = services.declare_monitor(teams["bob"], model, "errors", **ERRORS)
    with time_machine.travel(START, tick=False) as clock:
        traffic(model, production, 20, 5)
        first = services.evaluate(monitor.pk)
        second = services.evaluate(monitor.pk)
        alert = Alert.objects.get()
        refused = mallory.post(f"/monitoring/alerts/{alert.pk}/acknowledge")
        acknowledged = bob.post(f"/monitoring/alerts/{alert.pk}/acknowledge")

        clock.shift(timedelta(minutes=5))
        traffic(model, production, 20, 0)
        services.evaluate(monitor.pk)
        clock.shift(timedelta(minutes=5))
        traffic(model, production, 20, 10)
        cooling = services.evaluate(monitor.pk)

    assert (first.outcome, first.value, second.outcome) == ("failing", 0.25, "failing")
    assert refused.status_code == 403
    assert acknowledged.json()["state"] == "acknowledged"
    assert acknowledged.json()["acknowledged_by"] == "bob"
    assert cooling.outcome == "failing"
    assert list(Alert.objects.values_list("state", flat=True)) == ["resolved"]


def test_too_few_requests_give_no_verdict(teams, model, production) -> None:
    monitor = services.declare_monitor(teams["bob"], model, "errors", **ERRORS)
    with time_machine.travel(START, tick=False):
        traffic(model, production, 5, 5)
        evaluation = services.evaluate(monitor.pk)

    assert evaluation.outcome == "no_data"
    assert not Alert.objects.exists()


def test_alerts_are_listed_by_state(alice, teams, model, production) -> None:
    monitor = services.declare_monitor(teams["bob"], model, "errors", **ERRORS)
    with time_machine.travel(START, tick=False):
        traffic(model, production, 20, 20)
        services.evaluate(monitor.pk)

    firing = alice.get("/models/red/churn/alerts", state="firing").json()
    resolved = alice.get("/models/red/churn/alerts", state="resolved").json()

    assert [a["monitor"] for a in firing] == ["errors"]
    assert resolved == []


def test_members_send_feedback_by_request_id(bob, mallory, model) -> None:
    labels = [{"request_id": "a", "label": 1}, {"request_id": "b", "label": 0}]
    sent = bob.post("/models/red/churn/feedback", {"labels": labels})
    again = bob.post("/models/red/churn/feedback", {"labels": [{"request_id": "a", "label": 0}]})
    refused = mallory.post("/models/red/churn/feedback", {"labels": labels})

    assert sent.json() == {"received": 2}
    assert again.status_code == 200
    assert refused.status_code == 403
    assert dict(Feedback.objects.values_list("request_id", "label")) == {"a": 0, "b": 0}


def test_members_set_the_sample_rate(bob, mallory, model) -> None:
    assert bob.put("/models/red/churn/log", {"sample_rate": 0.25}).json()["sample_rate"] == 0.25
    assert bob.put("/models/red/churn/log", {"sample_rate": 2}).status_code == 422
    assert mallory.put("/models/red/churn/log", {"sample_rate": 0}).status_code == 403
