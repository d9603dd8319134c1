"""The prediction log: answered requests carry an id, sampled ones are buffered and written
as Parquet per model and hour with their window summary; a full buffer drops and counts,
never failing a request; without a recorder the server adds nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
import time_machine

from modelyard.monitoring import services
from modelyard.monitoring.log import DROPPED, PredictionLog
from modelyard.monitoring.models import WindowSummary
from modelyard.serving.app import App

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)


def post(app: App, rows: Any, headers: Any = ()) -> tuple[int, dict[bytes, bytes]]:
    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": orjson.dumps({"instances": rows})}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/models/churn:predict"}
        await app(scope | {"headers": list(headers)}, receive, send)
        return sent

    start = asyncio.run(run())[0]
    return start["status"], dict(start["headers"])


def test_without_a_recorder_the_answer_has_no_request_id(server, cancer) -> None:
    _, fleet = server
    status, headers = post(App(fleet), cancer[0][:2].tolist())

    assert status == 200
    assert b"x-request-id" not in headers


def test_each_answer_names_its_request_and_the_log_writes_it_per_model_and_hour(
    server, cancer, prediction_log, artifact_root, teams, served
) -> None:
    app, _ = server
    services.declare_monitor(teams["bob"], served, "inputs", "drift", threshold=0.2)
    with time_machine.travel(NOON, tick=False):
        status, headers = post(app, cancer[0][:3].tolist(), [(b"x-request-id", b"order-17")])
        bad, bad_headers = post(app, [[1.0, 2.0]])
        assert prediction_log.flush() == 2

    assert (status, headers[b"x-request-id"]) == (200, b"order-17")
    assert bad == 422
    assert len(bad_headers[b"x-request-id"]) == 32  # made up by the server
    files = list((artifact_root / "red/predictions/churn/20261201T12").glob("*.parquet"))
    table = pq.read_table(files[0]).to_pydict()
    assert table["request_id"] == ["order-17"] * 3 + [bad_headers[b"x-request-id"].decode()]
    assert table["status"] == [200, 200, 200, 422]
    assert table["input_f0"][:3] == cancer[0][:3, 0].tolist()
    assert len(table["output_probability"][0]) == 2
    assert table["output_probability"][3] is None
    summary = WindowSummary.objects.get()
    assert (summary.requests, summary.rows, summary.client_errors) == (2, 3, 1)
    assert sum(summary.feature_counts["f0"]) == 3
    assert sum(summary.latency_counts) == 2


def test_a_zero_sample_rate_logs_nothing(server, cancer, prediction_log, teams, served) -> None:
    app, _ = server
    services.set_sample_rate(teams["bob"], served, 0.0)
    prediction_log.flush()  # reads the rates

    status, _ = post(app, cancer[0][:1].tolist())

    assert status == 200
    assert len(prediction_log.buffer) == 0


def test_a_full_buffer_drops_and_counts_but_answers_every_request(server, cancer) -> None:
    _, fleet = server
    log = PredictionLog(capacity=2, flush_seconds=3600)
    app = App(fleet, recorder=log)
    before = DROPPED.labels("churn")._value.get()
    try:
        statuses = [post(app, cancer[0][:1].tolist())[0] for _ in range(5)]
    finally:
        log.buffer.clear()
        log.stop()

    assert statuses == [200] * 5
    assert DROPPED.labels("churn")._value.get() - before == 3


def test_rows_that_did_not_parse_are_logged_without_inputs(server, prediction_log) -> None:
    app, _ = server
    post(app, "not rows")

    assert prediction_log.buffer[0].rows is None
    assert prediction_log.buffer[0].status == 422
    assert np.isfinite(prediction_log.buffer[0].seconds)


def test_modelyard_serve_logs_only_when_the_setting_is_on(settings, model) -> None:
    from modelyard.cli.deploy import _prediction_log

    settings.PREDICTION_LOG = False
    assert _prediction_log() is None
    settings.PREDICTION_LOG = True
    settings.PREDICTION_LOG_BUFFER = 7
    assert isinstance(log := _prediction_log(), PredictionLog)
    assert log.capacity == 7


def test_the_servers_metrics_show_its_models_last_monitor_values(
    server, cancer, prediction_log, teams, served
) -> None:
    from django.utils import timezone

    from modelyard.monitoring.models import Evaluation
    from modelyard.serving import metrics

    app, _ = server
    monitor = services.declare_monitor(teams["bob"], served, "inputs", "drift", threshold=0.2)
    auc = services.declare_monitor(teams["bob"], served, "auc", "live_metric", threshold=0.1)
    post(app, cancer[0][:1].tolist())
    prediction_log.flush()  # the writer now knows it logs red/churn
    features = {"f0": {"psi": 0.7}, "f1": {"psi": 0.01}}
    Evaluation.objects.create(
        monitor=monitor,
        evaluated_at=timezone.now(),
        outcome="failing",
        value=0.7,
        details={"features": features},
    )
    live = {"metric": "roc_auc", "live": 0.61, "promoted": 0.99, "drop": 0.38}
    Evaluation.objects.create(
        monitor=auc, evaluated_at=timezone.now(), outcome="failing", value=0.61, details=live
    )
    prediction_log._rates_read_at = 0.0  # as if 30 seconds had passed
    prediction_log.flush()

    text = metrics.render().decode()
    assert 'modelyard_monitor_value{kind="drift",model="red/churn",monitor="inputs"} 0.7' in text
    assert 'modelyard_drift_psi{feature="f0",model="red/churn",monitor="inputs"} 0.7' in text
    assert 'modelyard_monitor_failing{kind="drift",model="red/churn",monitor="inputs"} 1.0' in text
    assert 'modelyard_live_metric{metric="roc_auc",model="red/churn",monitor="auc"} 0.61' in text
    labels = 'metric="roc_auc",model="red/churn",monitor="auc"'
    assert f"modelyard_live_metric_promoted{{{labels}}} 0.99" in text
