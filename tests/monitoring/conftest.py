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


HISTORY_STEPS = 24  # two hours, one step every 5 minutes
SHIFTED = range(15, 19)  # steps whose traffic drifts on f0 and f3
BAD_INPUT = range(8, 11)  # steps with malformed requests (the error-rate monitor fires)
WRONG_LABELS = 17  # from this step on the feedback disagrees with the model


@pytest.fixture
def history(teams, served, server, prediction_log, cancer) -> Any:
    """Two hours of a served red/churn, ending now: traffic every 5 minutes, drift on two
    features for 20 minutes (its alert fires, rolls back, resolves), bad requests for a
    while (the error monitor fires and resolves), and feedback that turns wrong at the end
    (the live-metric alert is still firing). Every monitor evaluated at every step."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from modelyard.monitoring import services
    from modelyard.monitoring.models import LoggedOutput
    from tests.monitoring.test_prediction_log import post

    app, fleet = server
    x = cancer[0]
    rng = np.random.default_rng(3)
    declare = services.declare_monitor
    declare(
        teams["bob"],
        served,
        "inputs",
        "drift",
        threshold=0.2,
        window_seconds=600,
        min_samples=200,
        reactions=["notify", "rollback"],
    )
    declare(
        teams["bob"], served, "errors", "errors", threshold=0.05, window_seconds=600, min_samples=10
    )
    declare(
        teams["bob"],
        served,
        "latency",
        "latency",
        threshold=250.0,
        window_seconds=600,
        min_samples=10,
    )
    declare(
        teams["bob"],
        served,
        "auc",
        "live_metric",
        threshold=0.1,
        window_seconds=600,
        min_samples=50,
    )
    start = timezone.now() - timedelta(minutes=5 * HISTORY_STEPS)
    with time_machine.travel(start, tick=False) as clock:
        for step in range(HISTORY_STEPS):
            clock.shift(timedelta(minutes=5))
            for request in range(8):
                batch = x[rng.integers(0, len(x), 25)].copy()
                if step in SHIFTED:
                    batch[:, 0] *= 3.0
                    batch[:, 3] *= 0.2
                post(app, batch.tolist(), [(b"x-request-id", f"s{step}-{request}".encode())])
            if step in BAD_INPUT:
                for _ in range(2):
                    post(app, [[1.0, 2.0]])
            prediction_log.flush()
            logged = LoggedOutput.objects.filter(request_id__startswith=f"s{step}-")
            services.record_feedback(
                teams["bob"],
                served,
                [
                    (row.request_id, _labels(row.outputs, rng, wrong=step >= WRONG_LABELS))
                    for row in logged
                ],
            )
            services.evaluate_all()
            summaries.forget_profiles()  # a version profiled after a rollback counts at once
            fleet.refresh()  # the server follows the alias, as its watcher would
    return served


def _labels(outputs: dict[str, Any], rng: np.random.Generator, wrong: bool) -> list[int]:
    """The model's own answer 97 % of the time (or 15 % of the time once wrong)."""
    predicted = np.argmax(np.asarray(outputs["probability"]), axis=1)
    agree = rng.random(len(predicted)) < (0.15 if wrong else 0.97)
    return np.where(agree, predicted, 1 - predicted).astype(int).tolist()


class Receiver:
    """A real HTTP server on a free port that keeps what is posted to it and answers with
    the statuses it is told (200 once they run out)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.statuses: list[int] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                with receiver.arrived:
                    receiver.posts.append((self.path, orjson.loads(body)))
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no_service")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[str, dict[str, Any]]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.posts) >= count, timeout), self.posts
            return list(self.posts)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()
