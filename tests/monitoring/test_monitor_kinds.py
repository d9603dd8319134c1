"""Categorical and prediction drift, data quality and traffic, evaluated from the summaries
the log's batches leave (summaries.add_batch), never from the raw log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import time_machine

from modelyard.monitoring import columns, services, summaries
from modelyard.monitoring.log import Record
from modelyard.monitoring.models import ReferenceProfile, WindowSummary
from modelyard.registry import services as registry
from modelyard.registry.models import Alias
from tests.fixtures.models import _bytes

pytestmark = pytest.mark.django_db
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FEATURES = ("amount", "plan")
SIGNATURE = {
    "inputs": [{"name": "amount", "type": "double"}, {"name": "plan", "type": "int"}],
    "outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}],
}
WINDOW = {"window_seconds": 600, "min_samples": 200}


def reference(generator: np.random.Generator, rows: int, plans: list[float]) -> np.ndarray:
    return np.column_stack(
        [generator.normal(50, 10, rows), generator.choice([0.0, 1.0, 2.0], rows, p=plans)]
    )


def predicted(rows: np.ndarray, lift: float = 0.0) -> dict[str, np.ndarray]:
    positive = np.clip((rows[:, 0] - 30) / 40 + lift, 0, 1)
    return {"probability": np.column_stack([1 - positive, positive])}


@pytest.fixture
def production(teams, model):
    spec = registry.VersionSpec(signature=SIGNATURE)
    version = registry.register_version(teams["alice"], model, spec, [_bytes("m.bin", b"x")])
    Alias.objects.create(asset=model, name="production", version=version)
    rows = reference(np.random.default_rng(0), 20_000, [0.6, 0.3, 0.1])
    outputs = columns.output_columns(predicted(rows))
    ReferenceProfile.objects.create(
        version=version,
        source="red/churn-data@1",
        rows=len(rows),
        features={
            "amount": columns.profile(rows[:, 0], "double"),
            "plan": columns.profile(rows[:, 1], "int"),
        },
        outputs={name: columns.profile(values) for name, values in outputs.items()},
        output_rows=len(rows),
    )
    return version


@pytest.fixture
def log(model, production):
    generator = np.random.default_rng(1)

    def send(requests: int = 30, plans=(0.6, 0.3, 0.1), lift=0.0, broken=0) -> None:
        records = []
        for i in range(requests):
            rows = reference(generator, 10, list(plans))
            outputs = predicted(rows, lift)
            rows[:broken, 0] = np.nan  # a client sending nothing for `amount`
            at = datetime.now(UTC).timestamp()
            where = (model.ref, model.pk, production.pk, 1, FEATURES)
            records.append(Record(f"r{i}", at, *where, rows, outputs, 200, 0.002))
        summaries.add_batch(model.pk, records)

    return send


def declare(teams, model, name: str, kind: str, threshold: float, **fields):
    return services.declare_monitor(
        teams["bob"], model, name, kind, threshold=threshold, **(WINDOW | fields)
    )


def test_a_categorical_feature_drifts_by_its_categories(teams, model, log) -> None:
    monitor = declare(teams, model, "inputs", "drift", 0.2)
    with time_machine.travel(START, tick=False) as clock:
        log()
        healthy = services.evaluate(monitor.pk)
        clock.shift(timedelta(minutes=15))
        log(plans=(0.1, 0.3, 0.6))
        drifted = services.evaluate(monitor.pk)

    assert healthy.outcome == "healthy", healthy.details
    assert drifted.outcome == "failing"
    assert drifted.details["drifted"] == ["plan"]
    plan = drifted.details["features"]["plan"]
    assert plan["test"] == "chi2"
    assert plan["p_value"] < 1e-6
    assert drifted.details["features"]["amount"]["test"] == "ks"


def test_prediction_drift_watches_the_outputs(teams, model, log) -> None:
    monitor = declare(teams, model, "outputs", "prediction_drift", 0.2)
    with time_machine.travel(START, tick=False) as clock:
        log()
        healthy = services.evaluate(monitor.pk)
        clock.shift(timedelta(minutes=15))
        log(lift=0.3)
        drifted = services.evaluate(monitor.pk)

    assert healthy.outcome == "healthy", healthy.details
    assert drifted.outcome == "failing"
    assert drifted.details["drifted"] == ["probability[0]", "probability[1]"]
    assert WindowSummary.objects.filter(output_counts__has_key="probability[1]").exists()


def test_data_quality_reports_missing_values_per_feature(teams, model, log) -> None:
    monitor = declare(teams, model, "quality", "data_quality", 0.05)
    with time_machine.travel(START, tick=False) as clock:
        log()
        healthy = services.evaluate(monitor.pk)
        clock.shift(timedelta(minutes=15))
        log(broken=3)  # 30 % of rows lack `amount`
        failing = services.evaluate(monitor.pk)

    assert healthy.outcome == "healthy", healthy.details
    assert healthy.value < 0.05  # a few normal values fall outside the reference's range
    assert failing.outcome == "failing"
    assert failing.details["failing"] == ["amount"]
    assert failing.details["features"]["amount"]["missing"] == 90
    assert failing.value == pytest.approx(0.3, abs=0.02)


def test_traffic_falling_below_its_floor_fires(teams, model, log) -> None:
    with time_machine.travel(START, tick=False) as clock:
        monitor = declare(teams, model, "traffic", "traffic", 10)
        log(requests=5)
        young = services.evaluate(monitor.pk)
        clock.shift(timedelta(minutes=11))
        log(requests=20)
        flowing = services.evaluate(monitor.pk)
        clock.shift(timedelta(minutes=11))
        stopped = services.evaluate(monitor.pk)

    assert young.outcome == "no_data"  # younger than its window: nothing to say yet
    assert (flowing.outcome, flowing.value) == ("healthy", 20)
    assert (stopped.outcome, stopped.value) == ("failing", 0)


def test_a_traffic_floor_must_be_a_request_or_more(bob, model) -> None:
    response = bob.put("/models/red/churn/monitors/t", {"kind": "traffic", "threshold": 0})

    assert response.status_code == 400
    assert "1 or more" in response.json()["message"]
