"""Alert mail: one ledger row per recipient; a retry after a failure sends only the rest."""

from __future__ import annotations

import pytest
from django.core import mail

from modelyard.monitoring import mail as alert_mail
from modelyard.monitoring.models import Alert, AlertDelivery, Monitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(teams, model):
    monitor = Monitor.objects.create(asset=model, name="errors", kind="errors", threshold=0.1)
    fired = Alert.objects.create(monitor=monitor, fired_at="2026-12-01T09:00Z", details={})
    for address in ("alice@example.com", "bob@example.com"):
        AlertDelivery.objects.create(alert=fired, recipient=address)
    return fired


def test_each_recipient_gets_one_mail_even_when_the_task_runs_again(alert) -> None:
    assert alert_mail.send_alert_mail(alert.pk) == 2
    assert alert_mail.send_alert_mail(alert.pk) == 0

    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    assert "red/churn: monitor errors is failing" in mail.outbox[0].subject
    assert "modelyard monitor ack" in mail.outbox[0].body


@pytest.mark.integration
def test_a_failed_send_is_counted_and_retried_later(alert, refusing_smtp) -> None:
    with pytest.raises(Exception, match="451"):
        alert_mail.send_alert_mail(alert.pk)

    first = AlertDelivery.objects.get(recipient="alice@example.com")
    assert (first.sent_at, first.attempts) == (None, 1)
    assert "451" in first.last_error
