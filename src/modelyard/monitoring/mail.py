"""Sending an alert's mail: one message per unsent ledger row, marked sent after sending."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from modelyard.lib.mail import render_email, send
from modelyard.monitoring.models import Alert, AlertDelivery
from modelyard.registry.models import Asset


def send_alert_mail(alert_id: int) -> int:
    alert = Alert.objects.select_related("monitor__asset__team").get(pk=alert_id)
    sent = 0
    for delivery in AlertDelivery.objects.filter(alert=alert, sent_at__isnull=True):
        try:
            send(render_email("model_alert", _context(alert), to=[delivery.recipient]))
        except Exception as error:
            AlertDelivery.objects.filter(pk=delivery.pk).update(
                attempts=F("attempts") + 1, last_error=str(error)[:2000]
            )
            raise
        AlertDelivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now())
        sent += 1
    return sent


def _context(alert: Alert) -> dict[str, object]:
    monitor = alert.monitor
    return {
        "alert": alert,
        "monitor": monitor,
        "model": monitor.asset.ref,
        "drifted": alert.details.get("drifted", []),
        "rolled_back": alert.rolled_back_at is not None and not alert.rollback_error,
        "page": page_link(monitor.asset),
    }


def page_link(asset: Asset) -> str:
    """The model's monitoring tab, as an absolute link for mail and webhooks."""
    return settings.BASE_URL + reverse("monitoring:tab", args=[asset.team.name, asset.name])
