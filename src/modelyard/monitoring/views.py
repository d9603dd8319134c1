"""The monitoring tab of a model's page, and its Acknowledge button.

Any signed-in user reads the tab (as the rest of the catalog); members of the model's team
acknowledge firing alerts, by a CSRF-protected POST that comes back as a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from modelyard.accounts.permissions import require_member, role_in
from modelyard.lib.errors import ModelyardError, NotFound
from modelyard.monitoring import page, services
from modelyard.monitoring.models import Alert, Evaluation, Monitor
from modelyard.registry import services as registry
from modelyard.registry.models import Asset, Kind
from modelyard.registry.views import not_found_as_404

ALERTS_SHOWN = 50


@dataclass(frozen=True)
class MonitorRow:
    monitor: Monitor
    last: Evaluation | None
    alert: Alert | None


@require_safe
@login_required
@not_found_as_404
def tab(request: HttpRequest, team: str, name: str) -> HttpResponse:
    asset = registry.get_asset(Kind.MODEL, team, name)
    chosen = request.GET.get("range", "24h")
    range_name = chosen if chosen in page.RANGES else "24h"
    monitors = list(asset.monitors.order_by("name"))
    alerts = Alert.objects.filter(monitor__asset=asset).select_related("monitor", "acknowledged_by")
    context = {
        "asset": asset,
        "aliases": asset.aliases.select_related("version").order_by("name"),
        "rows": [_row(monitor) for monitor in monitors],
        "tab": page.build(asset, monitors, range_name, timezone.now()),
        "ranges": list(page.RANGES),
        "alerts": alerts[:ALERTS_SHOWN],
        "can_act": role_in(request.user, asset.team) is not None,
    }
    return render(request, "monitoring/tab.html", context)


def _row(monitor: Monitor) -> MonitorRow:
    return MonitorRow(
        monitor,
        monitor.evaluations.first(),
        monitor.alerts.filter(state__in=Alert.OPEN).first(),
    )


@require_POST
@login_required
@not_found_as_404
def acknowledge(request: HttpRequest, team: str, name: str, alert_id: int) -> HttpResponse:
    asset = registry.get_asset(Kind.MODEL, team, name)
    try:
        require_member(request.user, asset.team, f"acknowledge alerts of {asset.ref}")
        alert = services.acknowledge(request.user, _alert_of(asset, alert_id))
        messages.success(request, f"Alert {alert.pk} ({alert.monitor.name}) is acknowledged.")
    except ModelyardError as error:
        messages.error(request, error.message)
    return redirect(page_url(asset))


def _alert_of(asset: Asset, alert_id: int) -> int:
    """The id, if the alert is this model's: a form posted to another model's URL is refused."""
    if not Alert.objects.filter(pk=alert_id, monitor__asset=asset).exists():
        raise NotFound(f"{asset.ref} has no alert {alert_id}.")
    return alert_id


def page_url(asset: Asset) -> str:
    return reverse("monitoring:tab", args=[asset.team.name, asset.name])
