"""Monitoring under /api/v1: feedback, monitors, alerts and the prediction log's sampling.

Any signed-in user reads monitors and alerts; a model's team members send feedback,
declare and delete monitors, set the sample rate and acknowledge alerts; a team's owners
set its alert webhook. Webhook URLs are secrets (whoever has one posts to the channel):
answers show only their scheme and host.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field, JsonValue

from modelyard.accounts.permissions import require_member, require_owner
from modelyard.accounts.services import get_team
from modelyard.api.types import Id
from modelyard.lib.errors import NotFound
from modelyard.monitoring import feedback, services, webhooks
from modelyard.monitoring.models import Alert, Evaluation, Monitor, WebhookDelivery
from modelyard.registry import services as registry
from modelyard.registry.models import Asset, Kind

router = Router(tags=["monitoring"])
MonitorName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


KeyValue = Annotated[str, Field(max_length=100)] | int | float | bool


class Label(Schema):
    """A label for the prediction answered with `request_id`, or for the latest one for the
    entity `keys` (the model's entity keys and their values) at or before `time`."""

    request_id: str | None = Field(None, min_length=1, max_length=100)
    keys: dict[Annotated[str, Field(max_length=100)], KeyValue] | None = Field(
        None, min_length=1, max_length=feedback.MAX_ENTITY_KEYS
    )
    time: datetime | None = None
    label: JsonValue


class FeedbackIn(Schema):
    labels: list[Label] = Field(min_length=1, max_length=services.MAX_FEEDBACK)


class FeedbackOut(Schema):
    received: int


class MonitorIn(Schema):
    kind: Literal[
        "drift", "prediction_drift", "data_quality", "errors", "latency", "traffic", "live_metric"
    ]
    threshold: float = Field(ge=0, le=1e9)
    alias: str = Field("production", min_length=1, max_length=63)
    window_seconds: int = Field(900, ge=1, le=30 * 86400)
    min_samples: int = Field(100, ge=1, le=10**9)
    ks_pvalue: float = Field(0.01, gt=0, le=1)
    reactions: list[Literal["notify", "rollback", "event"]] = Field(default_factory=list)
    cooldown_seconds: int = Field(3600, ge=0, le=30 * 86400)
    webhook_url: str = Field(
        "",
        max_length=500,
        description="notify: also post alerts here (Slack-compatible JSON); shown as its host.",
    )


class EvaluationOut(Schema):
    evaluated_at: datetime
    outcome: str
    value: float | None
    samples: int
    details: dict[str, Any]


class WebhookOut(Schema):
    url: str
    sent_at: datetime | None
    attempts: int
    last_error: str


class TeamWebhookIn(Schema):
    url: str = Field(max_length=500, description="'' for none.")


class TeamWebhookOut(Schema):
    team: str
    url: str


class AlertOut(Schema):
    id: int
    model: str
    monitor: str
    state: str
    fired_at: datetime
    details: dict[str, Any]
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    rolled_back: bool
    rollback_error: str
    webhooks: list[WebhookOut]


class MonitorOut(MonitorIn):
    name: str
    model: str
    last: EvaluationOut | None
    alert: AlertOut | None


class LogIn(Schema):
    sample_rate: float | None = Field(None, ge=0, le=1)
    entity_keys: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None, max_length=feedback.MAX_ENTITY_KEYS
    )


class LogOut(Schema):
    model: str
    sample_rate: float
    entity_keys: list[str]


def _model(team: str, name: str) -> Asset:
    return registry.get_asset(Kind.MODEL, team, name)


@router.post("/models/{team}/{name}/feedback", response=FeedbackOut, operation_id="send_feedback")
def send_feedback(request: HttpRequest, team: str, name: str, body: FeedbackIn) -> dict[str, Any]:
    asset = _model(team, name)
    require_member(request.user, asset.team, f"send feedback for {asset.ref}")
    labels = [
        feedback.Label(item.label, item.request_id or "", item.keys, item.time)
        for item in body.labels
    ]
    return {"received": feedback.record_labels(request.user, asset, labels)}


@router.put("/models/{team}/{name}/log", response=LogOut, operation_id="set_prediction_log")
def set_log(request: HttpRequest, team: str, name: str, body: LogIn) -> dict[str, Any]:
    asset = _model(team, name)
    require_member(request.user, asset.team, f"change the prediction log of {asset.ref}")
    settings = services.set_log(request.user, asset, body.sample_rate, body.entity_keys)
    return {
        "model": asset.ref,
        "sample_rate": settings.sample_rate,
        "entity_keys": settings.entity_keys,
    }


@router.get(
    "/models/{team}/{name}/monitors", response=list[MonitorOut], operation_id="list_monitors"
)
def monitors(request: HttpRequest, team: str, name: str) -> list[dict[str, Any]]:
    asset = _model(team, name)
    return [monitor_body(m) for m in asset.monitors.select_related("asset__team").order_by("name")]


@router.put(
    "/models/{team}/{name}/monitors/{monitor}", response=MonitorOut, operation_id="declare_monitor"
)
def declare(
    request: HttpRequest, team: str, name: str, monitor: MonitorName, body: MonitorIn
) -> dict[str, Any]:
    asset = _model(team, name)
    require_member(request.user, asset.team, f"declare monitors of {asset.ref}")
    fields = body.dict(exclude={"kind"})
    return monitor_body(services.declare_monitor(request.user, asset, monitor, body.kind, **fields))


@router.delete(
    "/models/{team}/{name}/monitors/{monitor}", response={204: None}, operation_id="delete_monitor"
)
def delete(request: HttpRequest, team: str, name: str, monitor: MonitorName) -> tuple[int, None]:
    asset = _model(team, name)
    require_member(request.user, asset.team, f"delete monitors of {asset.ref}")
    services.delete_monitor(request.user, _monitor(asset, monitor))
    return 204, None


@router.get("/models/{team}/{name}/alerts", response=list[AlertOut], operation_id="list_alerts")
def alerts(
    request: HttpRequest,
    team: str,
    name: str,
    state: Literal["firing", "acknowledged", "resolved"] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    rows = Alert.objects.filter(monitor__asset=_model(team, name))
    if state is not None:
        rows = rows.filter(state=state)
    rows = rows.select_related("monitor__asset__team", "acknowledged_by").prefetch_related(
        "webhooks"
    )
    return [alert_body(alert) for alert in rows[: max(1, min(limit, 500))]]


@router.post(
    "/monitoring/alerts/{alert_id}/acknowledge", response=AlertOut, operation_id="acknowledge_alert"
)
def acknowledge(request: HttpRequest, alert_id: Id) -> dict[str, Any]:
    alert = Alert.objects.select_related("monitor__asset__team").filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(f"No alert {alert_id}; `modelyard monitor alerts TEAM/NAME` lists them.")
    team = alert.monitor.asset.team
    require_member(request.user, team, f"acknowledge alerts of {alert.monitor.asset.ref}")
    return alert_body(services.acknowledge(request.user, alert.pk))


@router.put(
    "/teams/{team}/alert-webhook", response=TeamWebhookOut, operation_id="set_team_alert_webhook"
)
def team_webhook(request: HttpRequest, team: str, body: TeamWebhookIn) -> dict[str, Any]:
    found = get_team(team)
    require_owner(request.user, found, f"set the alert webhook of team '{found.name}'")
    alerting = services.set_team_webhook(request.user, found, body.url)
    return {"team": found.name, "url": webhooks.shown(alerting.webhook_url)}


def _monitor(asset: Asset, name: str) -> Monitor:
    monitor = asset.monitors.filter(name=name).first()
    if monitor is None:
        raise NotFound(f"{asset.ref} has no monitor {name!r}.")
    return monitor


def monitor_body(monitor: Monitor) -> dict[str, Any]:
    last = monitor.evaluations.first()
    alert = monitor.alerts.filter(state__in=Alert.OPEN).select_related("acknowledged_by").first()
    return {
        "name": monitor.name,
        "model": monitor.asset.ref,
        **{field: getattr(monitor, field) for field in MonitorIn.model_fields},
        "webhook_url": webhooks.shown(monitor.webhook_url),
        "last": _evaluation_body(last) if last else None,
        "alert": alert_body(alert) if alert else None,
    }


def _evaluation_body(evaluation: Evaluation) -> dict[str, Any]:
    fields = ("evaluated_at", "outcome", "value", "samples", "details")
    return {field: getattr(evaluation, field) for field in fields}


def alert_body(alert: Alert) -> dict[str, Any]:
    by = alert.acknowledged_by
    return {
        "id": alert.pk,
        "model": alert.monitor.asset.ref,
        "monitor": alert.monitor.name,
        "state": alert.state,
        "fired_at": alert.fired_at,
        "details": alert.details,
        "acknowledged_by": by.get_username() if by else None,
        "acknowledged_at": alert.acknowledged_at,
        "resolved_at": alert.resolved_at,
        "rolled_back": alert.rolled_back_at is not None and not alert.rollback_error,
        "rollback_error": alert.rollback_error,
        "webhooks": [_webhook_body(delivery) for delivery in alert.webhooks.all()],
    }


def _webhook_body(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "url": webhooks.shown(delivery.url),
        "sent_at": delivery.sent_at,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
    }
