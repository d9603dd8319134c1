"""The acceptance test of issue 13 on real services: red/churn (v1 weak, v2 good, both
trained on the holdout) served by a `modelyard serve` process that logs its predictions;
the test sends traffic over HTTP, and evaluates the monitors as beat would, in this process.

Healthy traffic from the training distribution; then f0 and f3 shifted: the drift monitor
fires at the next evaluation, the owners' mail arrives on a real SMTP server and the
webhook on a real HTTP server, the alias rolls back and the server swaps (announced over
Redis) while requests keep flowing, none failing; `model_alert` queues the team's
`retrain` command. Normal traffic resolves the alert; wrong labels fire the live metric.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest
from django.db.models import Sum

from modelyard.jobs import projects
from modelyard.jobs.models import Run
from modelyard.monitoring import reference, services
from modelyard.monitoring.models import Alert, LoggedOutput, WindowSummary
from modelyard.registry.models import Alias, AssetVersion
from tests.jobs.conftest import spec
from tests.serving.test_serve_command import serve

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
RETRAIN = "retrain:\n  on:\n    - model_alert: {model: churn}\n"
WINDOW = 3  # seconds: each phase's traffic is evaluated alone
ROWS = 20
LOGGING = {
    "MODELYARD_PREDICTION_LOG": "true",
    "MODELYARD_PREDICTION_LOG_FLUSH_SECONDS": "0.2",
    "MODELYARD_MONITORING_WINDOW_SECONDS": "1",
}


class Traffic:
    """Requests over HTTP with rows of the cancer data (indexes kept, so labels are known)."""

    def __init__(self, url: str, x: np.ndarray) -> None:
        self.client = httpx.Client(base_url=url, timeout=10)
        self.x = x
        self.rng = np.random.default_rng(11)
        self.sent: list[tuple[str, np.ndarray]] = []  # request id, row indexes

    def send(self, shift: bool = False) -> httpx.Response:
        indexes = self.rng.integers(0, len(self.x), ROWS)
        rows = self.x[indexes].copy()
        if shift:
            rows[:, 0] *= 3.0
            rows[:, 3] *= 0.2
        body = {
            "inputs": [
                {
                    "name": "input",
                    "shape": [ROWS, 30],
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ]
        }
        response = self.client.post("/v2/models/churn/infer", json=body)
        self.sent.append((response.headers.get("x-request-id", ""), indexes))
        return response


def rows_logged(version: AssetVersion) -> int:
    return WindowSummary.objects.filter(version=version).aggregate(n=Sum("rows"))["n"] or 0


def wait_until(check: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def phase(traffic: Traffic, version: AssetVersion, requests: int, shift: bool = False) -> None:
    """A fresh window: wait for the last one to pass, send, wait until the log has it all."""
    time.sleep(WINDOW)
    before = rows_logged(version)
    statuses = {traffic.send(shift).status_code for _ in range(requests)}
    assert statuses == {200}
    wait_until(lambda: rows_logged(version) >= before + requests * ROWS, "the prediction log")


def test_drift_rolls_back_a_served_model_with_no_failed_request_then_resolves(
    teams, served, cancer, smtp_settings, receiver, clean_redis, settings, tmp_path
) -> None:
    settings.REDIS_URL = clean_redis  # the rollback is announced: the server swaps at once
    settings.RUN_EXECUTOR = "tests.jobs.fakes.RecordingExecutor"
    projects.apply(teams["alice"], spec(RETRAIN))
    weak, good = AssetVersion.objects.filter(asset=served).order_by("version")
    reference.profile_for(weak)  # both versions count their traffic into reference bins
    drift = services.declare_monitor(
        teams["bob"],
        served,
        "inputs",
        "drift",
        threshold=0.2,
        window_seconds=WINDOW,
        min_samples=200,
        reactions=["notify", "rollback", "event"],
        webhook_url=f"{receiver.url}/hook",
    )
    auc = services.declare_monitor(
        teams["bob"],
        served,
        "auc",
        "live_metric",
        threshold=0.1,
        window_seconds=120,
        min_samples=50,
    )
    options = ("--models", "red/churn", "--poll-seconds", "60")
    with serve(tmp_path, clean_redis, *options, env=LOGGING) as url:
        traffic = Traffic(url, cancer[0])
        phase(traffic, good, 15)
        healthy = services.evaluate(drift.pk)

        phase(traffic, good, 15, shift=True)
        during: list[httpx.Response] = []
        stop = threading.Event()
        sender = threading.Thread(target=lambda: _keep_sending(traffic, during, stop))
        sender.start()
        fired = services.evaluate(drift.pk)  # one evaluation after the shift
        wait_until(lambda: any(r.json()["model_version"] == "1" for r in during), "the swap")
        stop.set()
        sender.join()
        mail = smtp_settings.wait_for(2)
        posted = receiver.wait_for(1)
        services.evaluate(drift.pk)  # still the same incident: no second mail or rollback

        phase(traffic, weak, 15)
        resolved = services.evaluate(drift.pk)
        labelled = [(rid, idx) for rid, idx in traffic.sent[-15:] if rid]
        wait_until(lambda: LoggedOutput.objects.filter(version=weak).count() >= 15, "outputs")
        truth = cancer[1]
        services.record_feedback(
            teams["bob"], served, [(rid, (1 - truth[idx]).tolist()) for rid, idx in labelled]
        )
        live = services.evaluate(auc.pk)

    assert healthy.outcome == "healthy", healthy.details
    assert fired.outcome == "failing"
    assert fired.details["drifted"] == ["f0", "f3"]
    assert sorted(a for m in mail for a in m.rcpt_tos) == ["alice@example.com", "bob@example.com"]
    assert "/models/red/churn/monitoring/" in mail[0].message.get_body(("plain",)).get_content()
    assert "red/churn: monitor inputs is failing" in posted[0][1]["text"]
    assert Alias.objects.get(asset=served, name="production").version == weak
    versions = {r.json()["model_version"] for r in during}
    assert versions == {"1", "2"}  # requests flowed through the swap ...
    assert {r.status_code for r in during} == {200}  # ... and none failed
    assert list(Run.objects.values_list("command__name", flat=True)) == ["retrain"]
    assert resolved.outcome == "healthy", resolved.details
    assert Alert.objects.get(monitor=drift).state == "resolved"  # the one alert
    assert len(smtp_settings.messages) == 2
    assert len(receiver.posts) == 1
    assert live.outcome == "failing", live.details
    assert live.details["live"] < 0.5


def _keep_sending(traffic: Traffic, into: list[httpx.Response], stop: threading.Event) -> None:
    while not stop.is_set():
        into.append(traffic.send(shift=True))
