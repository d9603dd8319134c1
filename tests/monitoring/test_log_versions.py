"""Finished hours of the prediction log become versions of the team's log data set, with
lineage to the model versions they logged, once each; the hour still being written waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from modelyard.monitoring import logs
from modelyard.monitoring.models import LoggedHour
from modelyard.registry.models import AssetVersion, LineageEdge
from tests.monitoring.test_prediction_log import post

pytestmark = pytest.mark.django_db
ELEVEN = datetime(2026, 12, 1, 11, 10, tzinfo=UTC)


def test_a_finished_hour_is_registered_once_with_lineage(
    server, cancer, prediction_log, served
) -> None:
    app, _ = server
    with time_machine.travel(ELEVEN, tick=False) as clock:
        post(app, cancer[0][:2].tolist())
        prediction_log.flush()
        waiting = logs.register_finished_hours()
        clock.shift(timedelta(hours=1))
        registered = logs.register_finished_hours()
        again = logs.register_finished_hours()

    assert (waiting, registered, again) == (0, 1, 0)
    version = AssetVersion.objects.get(asset__name="churn-predictions")
    assert version.team.name == "red"
    assert version.tags["hour"] == "20261201T11"
    assert version.artifacts.get().uri.endswith("/red/predictions/churn/20261201T11")
    edge = LineageEdge.objects.get(downstream=version)
    assert (edge.upstream.ref, edge.relation) == ("red/churn:2", "derived_from")
    assert LoggedHour.objects.get().dataset_version == version
