"""The live metric: logged outputs joined with feedback by request id, scored with the gate's
metric, against the score the version was promoted with; wrong labels fire the monitor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from modelyard.monitoring import services
from modelyard.monitoring.models import Alert
from tests.monitoring.test_prediction_log import post

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_wrong_labels_fire_the_live_metric_and_right_ones_keep_it_healthy(
    teams, served, server, cancer, prediction_log
) -> None:
    app, _ = server
    x, y = cancer
    monitor = services.declare_monitor(
        teams["bob"], served, "auc", "live_metric", threshold=0.1, min_samples=50
    )
    with time_machine.travel(NOON, tick=False):
        for index in range(80):
            post(app, [x[index].tolist()], [(b"x-request-id", f"r{index}".encode())])
        prediction_log.flush()
        services.record_feedback(teams["bob"], served, [(f"r{i}", int(y[i])) for i in range(80)])
        right = services.evaluate(monitor.pk)
        flipped = [(f"r{i}", int(1 - y[i])) for i in range(80)]
        services.record_feedback(teams["bob"], served, flipped)
        wrong = services.evaluate(monitor.pk)

    assert right.outcome == "healthy", right.details
    assert right.details["metric"] == "roc_auc"
    assert right.samples == 80
    assert wrong.outcome == "failing"
    assert wrong.value < 0.5
    assert Alert.objects.get().details["kind"] == "live_metric"


def test_without_feedback_there_is_no_verdict(
    teams, served, server, cancer, prediction_log
) -> None:
    app, _ = server
    monitor = services.declare_monitor(
        teams["bob"], served, "auc", "live_metric", threshold=0.1, min_samples=1
    )
    post(app, [cancer[0][0].tolist()])
    prediction_log.flush()

    assert services.evaluate(monitor.pk).outcome == "no_data"
