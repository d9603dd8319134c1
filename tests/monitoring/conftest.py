"""A served red/churn with two production versions trained on the breast cancer data, an
in-process prediction server with a prediction log, and traffic drawn from that data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson
import pytest

from modelyard.deployment.services import promote
from modelyard.monitoring import summaries
from modelyard.monitoring.log import PredictionLog
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
from tests.serving.conftest import call


@pytest.fixture(autouse=True)
def _fresh_profile_cache() -> Iterator[None]:
    summaries.forget_profiles()  # version ids come back between transactional tests
    yield
    summaries.forget_profiles()


@pytest.fixture
def served(artifact_root, teams, gated, register_model, estimators, evaluation_data) -> Any:
    """Versions 1 (weak) then 2 (good) promoted to production, both trained on the holdout."""
    lineage = [(evaluation_data, "trained_on")]
    for name in ("weak", "good"):
        version = register_model(estimators[name], lineage=list(lineage))
        promote(teams["alice"], gated, version, "production")
    return gated


@pytest.fixture
def prediction_log() -> Iterator[PredictionLog]:
    # Flushed by the tests themselves; the thread's own interval never comes in a test.
    log = PredictionLog(capacity=100_000, flush_seconds=3600)
    yield log
    log.stop()


@pytest.fixture
def server(served, prediction_log) -> tuple[App, Fleet]:
    fleet = Fleet.from_refs(["red/churn"], "production", 3600)
    fleet.refresh()
    return App(fleet, recorder=prediction_log), fleet


@pytest.fixture
def traffic(server, cancer) -> Callable[..., list[int]]:
    """`traffic(requests, rows, shift={column index: factor})`: statuses of the requests."""
    app, _ = server
    x = cancer[0]
    generator = np.random.default_rng(7)

    def send(
        requests: int = 20, rows: int = 20, shift: dict[int, float] | None = None
    ) -> list[int]:
        statuses = []
        for _ in range(requests):
            batch = x[generator.integers(0, len(x), rows)].copy()
            for column, factor in (shift or {}).items():
                batch[:, column] *= factor
            body = orjson.dumps({"instances": batch.tolist()})
            statuses.append(call(app, "POST", "/v1/models/churn:predict", body)[0])
        return statuses

    return send


@pytest.fixture(autouse=True)
def _write_access_records(request: pytest.FixtureRequest) -> Iterator[None]:
    """Predictions record uses in the process-wide buffer: write them while tables exist."""
    yield
    if "django_db" in {mark.name for mark in request.node.iter_markers()}:
        from modelyard.registry.access import tracker

        tracker().flush()
