"""What a firing alert does, per its monitor's `reactions`: mail the owning team, roll the
alias back (once per incident), and tell jobs (`model_alert`) so a retrain command runs."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from modelyard.deployment import services as deployment
from modelyard.jobs.events import emit
from modelyard.lib.errors import ModelyardError
from modelyard.lib.tasks import enqueue
from modelyard.monitoring import webhooks
from modelyard.monitoring.models import Alert, AlertDelivery, Monitor

log = logging.getLogger(__name__)
SEND_ALERT_MAIL = "modelyard.monitoring.tasks.send_alert_mail"


def react(monitor: Monitor, alert: Alert) -> None:
    if "rollback" in monitor.reactions:
        rollback(monitor, alert)
    if "notify" in monitor.reactions:
        notify(monitor, alert)
    if "event" in monitor.reactions:
        payload = {"model": monitor.asset.ref, "monitor": monitor.name, "alert": alert.pk}
        emit("model_alert", {**payload, "kind": monitor.kind}, monitor.asset.team.name)


def recipients(monitor: Monitor) -> list[str]:
    team = monitor.asset.team
    members = User.objects.filter(memberships__team=team, is_active=True).exclude(email="")
    addresses = sorted({user.email.lower() for user in members})
    return addresses or ([team.contact_email] if team.contact_email else [])


def notify(monitor: Monitor, alert: Alert) -> None:
    """One ledger row per recipient, then the mail task once the alert is committed; and
    the same for the monitor's and the team's webhooks."""
    webhooks.queue(monitor, alert)
    AlertDelivery.objects.bulk_create(
        [AlertDelivery(alert=alert, recipient=address) for address in recipients(monitor)],
        ignore_conflicts=True,
    )
    transaction.on_commit(lambda: enqueue(SEND_ALERT_MAIL, alert.pk))


def rollback(monitor: Monitor, alert: Alert) -> None:
    """Roll the alias back, at most once per incident: the claim is a conditional update."""
    claimed = Alert.objects.filter(pk=alert.pk, rolled_back_at__isnull=True).update(
        rolled_back_at=timezone.now()
    )
    if not claimed:
        return
    actor = f"monitor:{monitor.asset.ref}/{monitor.name}"
    reason = f"Alert {alert.pk}: monitor {monitor.name} ({monitor.kind}) is failing."
    try:
        with transaction.atomic():
            deployment.rollback(actor, monitor.asset, monitor.alias, reason=reason)
    except ModelyardError as error:
        # Nothing to return to (or it was deleted): the alert says so, the mail shows it.
        Alert.objects.filter(pk=alert.pk).update(rollback_error=str(error)[:2000])
        log.warning("Monitor %s could not roll back %s: %s", monitor, monitor.asset.ref, error)
