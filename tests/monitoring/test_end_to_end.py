"""The loop closed on real services: a served model's traffic drifts on two features, the
drift monitor fires at the next evaluation, the owners' mail arrives over SMTP, the alias
rolls back, `model_alert` queues the team's retrain command; normal traffic resolves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from modelyard.jobs import projects
from modelyard.jobs.models import Run
from modelyard.monitoring import services
from modelyard.monitoring.models import Alert, AlertDelivery, Evaluation
from modelyard.registry.models import Alias
from tests.jobs.conftest import spec

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RETRAIN = "retrain:\n  on:\n    - model_alert: {model: churn}\n"


def production_version(served) -> int:
    return Alias.objects.get(asset=served, name="production").version.version


def test_drift_fires_mails_rolls_back_and_asks_for_retraining_then_resolves(
    teams, served, server, traffic, prediction_log, smtp_settings, settings
) -> None:
    settings.RUN_EXECUTOR = "tests.jobs.fakes.RecordingExecutor"
    projects.apply(teams["alice"], spec(RETRAIN))
    _, fleet = server
    with time_machine.travel(START, tick=False) as clock:
        monitor = services.declare_monitor(
            teams["bob"],
            served,
            "inputs",
            "drift",
            threshold=0.2,
            window_seconds=120,
            min_samples=200,
            reactions=["notify", "rollback", "event"],
        )
        assert set(traffic()) == {200}
        prediction_log.flush()
        healthy = services.evaluate(monitor.pk)

        clock.shift(timedelta(minutes=5))
        assert set(traffic(shift={0: 3.0, 3: 0.2})) == {200}
        prediction_log.flush()
        fired = services.evaluate(monitor.pk)
        mail = smtp_settings.wait_for(2)

        fleet.refresh()  # the server swaps to version 1; the traffic stays shifted
        assert set(traffic(shift={0: 3.0, 3: 0.2})) == {200}
        prediction_log.flush()
        again = services.evaluate(monitor.pk)  # the same incident: no second mail or rollback

        clock.shift(timedelta(minutes=5))
        assert set(traffic()) == {200}
        prediction_log.flush()
        resolved = services.evaluate(monitor.pk)

    assert healthy.outcome == Evaluation.Outcome.HEALTHY, healthy.details
    assert fired.outcome == again.outcome == Evaluation.Outcome.FAILING
    assert fired.details["drifted"] == ["f0", "f3"]
    recipients = sorted(address for m in mail for address in m.rcpt_tos)
    assert recipients == ["alice@example.com", "bob@example.com"]
    assert len(smtp_settings.messages) == 2
    assert "red/churn" in mail[0].message["Subject"]
    assert "f0, f3" in mail[0].message.get_body(("plain",)).get_content()
    assert AlertDelivery.objects.filter(sent_at__isnull=False).count() == 2
    assert production_version(served) == 1  # rolled back once: from 2 to 1, not further
    assert list(Run.objects.values_list("command__name", flat=True)) == ["retrain"]
    assert resolved.outcome == Evaluation.Outcome.HEALTHY, resolved.details
    alert = Alert.objects.get()
    assert alert.state == Alert.State.RESOLVED
    assert alert.rolled_back_at is not None
    assert alert.rollback_error == ""
