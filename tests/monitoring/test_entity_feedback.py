"""Feedback by entity keys and time: a model names the input columns that identify an entity;
a label for (entity, time) joins the latest prediction logged for it at or before that time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import time_machine

from modelyard.monitoring import live, services, summaries
from modelyard.monitoring.log import Record
from modelyard.monitoring.models import Feedback
from modelyard.registry import services as registry
from modelyard.registry.models import Alias
from tests.fixtures.models import _bytes

pytestmark = pytest.mark.django_db
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SIGNATURE = {
    "inputs": [{"name": "customer", "type": "int"}, {"name": "amount", "type": "double"}],
    "outputs": [{"name": "label", "type": "int"}],
}


@pytest.fixture
def production(teams, model):
    spec = registry.VersionSpec(signature=SIGNATURE)
    version = registry.register_version(teams["alice"], model, spec, [_bytes("m.bin", b"x")])
    Alias.objects.create(asset=model, name="production", version=version)
    return version


def logged(model, version, request_id: str, customers: list[int], labels: list[int]) -> None:
    rows = np.column_stack([customers, np.full(len(customers), 10.0)])
    where = (model.ref, model.pk, version.pk, 1, ("customer", "amount"))
    at = datetime.now(UTC).timestamp()
    outputs = {"label": np.asarray(labels)}
    summaries.add_batch(model.pk, [Record(request_id, at, *where, rows, outputs, 200, 0.001)])


def test_members_name_entity_keys_and_send_labels_by_them(bob, mallory, model, production) -> None:
    unknown = bob.put("/models/red/churn/log", {"entity_keys": ["user"]})
    refused = mallory.put("/models/red/churn/log", {"entity_keys": ["customer"]})
    before = bob.post(
        "/models/red/churn/feedback",
        {"labels": [{"keys": {"customer": 3}, "time": "2026-12-01T09:00:00Z", "label": 1}]},
    )
    named = bob.put("/models/red/churn/log", {"entity_keys": ["customer"]})
    labels = [
        {"keys": {"customer": 3}, "time": "2026-12-01T09:00:00Z", "label": 1},
        {"keys": {"customer": 3.0}, "time": "2026-12-01T09:00:00Z", "label": 0},  # replaces
        {"request_id": "r9", "label": 1},
    ]
    sent = bob.post("/models/red/churn/feedback", {"labels": labels})
    wrong_keys = bob.post(
        "/models/red/churn/feedback",
        {"labels": [{"keys": {"store": 3}, "time": "2026-12-01T09:00:00Z", "label": 1}]},
    )
    no_time = bob.post(
        "/models/red/churn/feedback", {"labels": [{"keys": {"customer": 3}, "label": 1}]}
    )

    assert unknown.status_code == 400
    assert "not inputs of red/churn" in unknown.json()["message"]
    assert refused.status_code == 403
    assert before.status_code == 400
    assert "no entity keys" in before.json()["message"]
    assert named.json() == {"model": "red/churn", "sample_rate": 1.0, "entity_keys": ["customer"]}
    assert sent.json() == {"received": 3}
    entity = Feedback.objects.get(entity="customer=3")
    assert (entity.label, entity.request_id) == (0, "")
    assert wrong_keys.status_code == 400
    assert "label 1: keys store" in wrong_keys.json()["message"]
    assert no_time.status_code == 400
    assert Feedback.objects.count() == 2


def test_a_label_joins_the_latest_prediction_for_its_entity_at_its_time(
    teams, model, production
) -> None:
    services.set_log(teams["bob"], model, None, ["customer"])
    monitor = services.declare_monitor(
        teams["bob"], model, "live", "live_metric", threshold=0.1, window_seconds=3600
    )
    with time_machine.travel(START, tick=False) as clock:
        logged(model, production, "a", [1, 2, 3], [0, 0, 0])
        clock.shift(timedelta(minutes=10))
        logged(model, production, "b", [3], [1])
        clock.shift(timedelta(minutes=10))
        labels = [
            services.feedback.Label(5, keys={"customer": 3}, at=START + timedelta(minutes=5)),
            services.feedback.Label(6, keys={"customer": 3}, at=START + timedelta(minutes=15)),
            services.feedback.Label(7, keys={"customer": 2}, at=START + timedelta(minutes=15)),
            services.feedback.Label(8, keys={"customer": 1}, at=START - timedelta(minutes=1)),
            services.feedback.Label(9, keys={"customer": 4}, at=START + timedelta(minutes=15)),
        ]
        services.feedback.record_labels(teams["bob"], model, labels)
        joined, outputs = live._joined(monitor, production, START - timedelta(minutes=30))

    # customer 3 at 9:05 is request a's row, at 9:15 request b's; customer 1 had no
    # prediction yet at 8:59 and customer 4 none at all
    assert sorted(zip(joined.tolist(), outputs["label"].tolist(), strict=True)) == [
        (5, 0),
        (6, 1),
        (7, 0),
    ]
