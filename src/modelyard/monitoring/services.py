"""Changes to monitoring's state: monitors, sample rates, feedback, evaluations, alerts.

One transaction each, each writing its audit row where a person or a monitor acted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from modelyard.accounts.models import Team
from modelyard.audit.services import record
from modelyard.lib.errors import Conflict, InvalidInput, ModelyardError, NotFound
from modelyard.monitoring import checks, feedback, live, reactions, reference, stats, webhooks
from modelyard.monitoring.models import (
    Alert,
    Evaluation,
    LogSettings,
    Monitor,
    TeamAlerting,
    WindowSummary,
)
from modelyard.registry.models import Alias, Asset, AssetVersion, Kind
from modelyard.registry.services import Actor, user_of

log = logging.getLogger(__name__)
MAX_FEEDBACK = feedback.MAX_FEEDBACK


def _model(asset: Asset) -> None:
    if asset.kind != Kind.MODEL:
        raise InvalidInput(f"{asset.ref} is a {asset.kind}; only models are monitored.")


@transaction.atomic
def set_sample_rate(actor: Actor, asset: Asset, rate: float) -> LogSettings:
    _model(asset)
    if not 0.0 <= rate <= 1.0:
        raise InvalidInput(f"The sample rate must be between 0 and 1, not {rate}.")
    settings, _ = LogSettings.objects.select_for_update().get_or_create(asset=asset)
    settings.sample_rate = rate
    settings.save()
    record(actor, "model.log_configured", asset=asset, details={"sample_rate": rate})
    return settings


@transaction.atomic
def set_log(
    actor: Actor, asset: Asset, rate: float | None, entity_keys: list[str] | None
) -> LogSettings:
    """Change what is given (the sample rate, the entity keys), keep the rest."""
    if rate is not None:
        set_sample_rate(actor, asset, rate)
    if entity_keys is not None:
        feedback.set_entity_keys(actor, asset, entity_keys)
    return LogSettings.objects.get_or_create(asset=asset)[0]


@transaction.atomic
def declare_monitor(actor: Actor, asset: Asset, name: str, kind: str, **fields: Any) -> Monitor:
    """Create or replace the model's monitor `name`; a drift monitor needs reference data."""
    _model(asset)
    if kind not in Monitor.Kind.values:
        raise InvalidInput(
            f"Unknown monitor kind {kind!r}; use one of {', '.join(Monitor.Kind.values)}."
        )
    _check_threshold(kind, fields.get("threshold"))
    unknown = [r for r in fields.get("reactions", []) if r not in Monitor.REACTIONS]
    if unknown:
        raise InvalidInput(
            f"Unknown reaction(s) {', '.join(unknown)}; use {', '.join(Monitor.REACTIONS)}."
        )
    fields["webhook_url"] = webhooks.check_url(fields.get("webhook_url") or "")
    monitor, _ = Monitor.objects.update_or_create(
        asset=asset,
        name=name,
        defaults={"kind": kind, "created_by": user_of(actor), **fields},
    )
    if kind in PROFILED:
        holder = (
            Alias.objects.filter(asset=asset, name=monitor.alias).select_related("version").first()
        )
        if holder is not None:
            _profile(monitor, holder.version)  # fails here, not at the first evaluation
    record(actor, "monitor.declared", asset=asset, details={"monitor": name, "kind": kind})
    return monitor


def _check_threshold(kind: str, threshold: float | None) -> None:
    if kind == Monitor.Kind.TRAFFIC and (threshold is None or threshold <= 0):
        raise InvalidInput(
            "A traffic monitor's threshold is the fewest requests a window may see: 1 or more "
            "(1 fires when requests fall to zero)."
        )
    if kind in (Monitor.Kind.ERRORS, Monitor.Kind.DATA_QUALITY) and (threshold or 0) > 1:
        raise InvalidInput(
            f"A {kind} monitor's threshold is a share between 0 and 1, not {threshold}."
        )


@transaction.atomic
def set_team_webhook(actor: Actor, team: Team, url: str) -> TeamAlerting:
    """Where every `notify` reaction of the team's monitors posts too ('' for nowhere)."""
    alerting, _ = TeamAlerting.objects.select_for_update().get_or_create(team=team)
    alerting.webhook_url = webhooks.check_url(url)
    alerting.save()
    record(actor, "team.alert_webhook_set", team=team, details={"url": webhooks.shown(url)})
    return alerting


@transaction.atomic
def delete_monitor(actor: Actor, monitor: Monitor) -> None:
    record(actor, "monitor.deleted", asset=monitor.asset, details={"monitor": monitor.name})
    monitor.delete()


def record_feedback(actor: Actor, asset: Asset, labels: list[tuple[str, Any]]) -> int:
    """Store true labels by request id (feedback.record_labels also takes entity keys)."""
    items = [feedback.Label(label, request_id=request_id) for request_id, label in labels]
    return feedback.record_labels(actor, asset, items)


# --- evaluation ---------------------------------------------------------------------------


def evaluate_all() -> int:
    """Evaluate every monitor; one that cannot be (its reference data gone, say) is logged
    and the others still run."""
    evaluated = 0
    for monitor_id in Monitor.objects.values_list("pk", flat=True):
        try:
            evaluate(monitor_id)
        except ModelyardError as error:
            log.warning("Monitor %s was not evaluated: %s", monitor_id, error)
            continue
        evaluated += 1
    return evaluated


@transaction.atomic
def evaluate(monitor_id: int) -> Evaluation:
    monitor = Monitor.objects.select_related("asset__team").get(pk=monitor_id)
    now = timezone.now()
    holder = Alias.objects.filter(asset=monitor.asset, name=monitor.alias).first()
    since = now - timedelta(seconds=monitor.window_seconds)
    summaries = WindowSummary.objects.filter(window_start__gte=since)
    if monitor.kind == Monitor.Kind.TRAFFIC:  # every version's requests are the model's
        summaries = summaries.filter(asset=monitor.asset)
    else:
        summaries = summaries.filter(version_id=holder.version_id if holder else None)
    if monitor.kind == Monitor.Kind.LIVE_METRIC:
        outcome, value, samples, details = _live_metric(monitor, holder, now)
    elif monitor.kind == Monitor.Kind.TRAFFIC and monitor.created_at > since:
        outcome, value, samples, details = Evaluation.Outcome.NO_DATA, None, 0, {}
    else:
        outcome, value, samples, details = _measure(monitor, list(summaries))
    evaluation = Evaluation.objects.create(
        monitor=monitor,
        evaluated_at=now,
        outcome=outcome,
        value=value,
        samples=samples,
        details=details,
    )
    if outcome == Evaluation.Outcome.FAILING:
        _fire(monitor, evaluation)
    elif outcome == Evaluation.Outcome.HEALTHY:
        _resolve(monitor, evaluation)
    if monitor.kind in PROFILED:
        _profile_holder(monitor)
    return evaluation


# The monitors read off counts in the reference's bins, kept only for profiled versions.
PROFILED = (Monitor.Kind.DRIFT, Monitor.Kind.PREDICTION_DRIFT, Monitor.Kind.DATA_QUALITY)


def _profile_holder(monitor: Monitor) -> None:
    """Profile the version the alias points at now (after a promotion or a rollback), so
    the log counts its traffic into reference bins from its first batch."""
    holder = Alias.objects.filter(asset=monitor.asset, name=monitor.alias).first()
    if holder is None:
        return
    try:
        _profile(monitor, holder.version)
    except InvalidInput as error:  # the declared monitor stays; its evaluations say NO_DATA
        log.warning("No drift reference for %s: %s", holder.version.ref, error)


def _profile(monitor: Monitor, version: AssetVersion) -> None:
    if monitor.kind == Monitor.Kind.PREDICTION_DRIFT:
        reference.outputs_profile_for(version)
    else:
        reference.profile_for(version)


def _measure(
    monitor: Monitor, summaries: list[WindowSummary]
) -> tuple[str, float | None, int, dict[str, Any]]:
    measure = MEASURES.get(monitor.kind)
    if measure is not None:
        return measure(monitor, summaries)
    requests = sum(s.requests for s in summaries)
    if requests < monitor.min_samples:
        return Evaluation.Outcome.NO_DATA, None, requests, {}
    if monitor.kind == Monitor.Kind.ERRORS:
        errors = sum(s.client_errors + s.server_errors for s in summaries)
        value = errors / requests
        details: dict[str, Any] = {"errors": errors, "requests": requests}
    else:
        counts: list[int] = []
        for summary in summaries:
            counts = stats.add(counts, summary.latency_counts)
        value = (stats.p99_seconds(counts) or 0.0) * 1000
        details = {"p99_ms": value}
    return _outcome(value > monitor.threshold), value, requests, details


def _live_metric(
    monitor: Monitor, holder: Alias | None, now: datetime
) -> tuple[str, float | None, int, dict[str, Any]]:
    if holder is None:
        return Evaluation.Outcome.NO_DATA, None, 0, {}
    since = now - timedelta(seconds=monitor.window_seconds)
    failing, value, samples, details = live.measure(monitor, holder.version, since)
    if failing is None:
        return Evaluation.Outcome.NO_DATA, value, samples, details
    return _outcome(failing), value, samples, details


def _outcome(failing: bool) -> str:
    return checks.outcome(failing)


MEASURES: dict[str, Callable[[Monitor, list[WindowSummary]], checks.Measure]] = {
    Monitor.Kind.DRIFT: checks.drift,
    Monitor.Kind.PREDICTION_DRIFT: checks.prediction_drift,
    Monitor.Kind.DATA_QUALITY: checks.quality,
    Monitor.Kind.TRAFFIC: checks.traffic,
}


def _fire(monitor: Monitor, evaluation: Evaluation) -> None:
    if Alert.objects.filter(monitor=monitor, state__in=Alert.OPEN).exists():
        return  # the same incident goes on: no second mail, no second rollback
    last = Alert.objects.filter(monitor=monitor, state=Alert.State.RESOLVED).first()
    cooldown = timedelta(seconds=monitor.cooldown_seconds)
    if last and last.resolved_at and evaluation.evaluated_at - last.resolved_at < cooldown:
        return
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                monitor=monitor,
                fired_at=evaluation.evaluated_at,
                details=_summary(monitor, evaluation),
            )
    except IntegrityError:  # another evaluation opened it first
        return
    record(_actor(monitor), "monitor.alert_fired", asset=monitor.asset, details=alert.details)
    reactions.react(monitor, alert)


def _resolve(monitor: Monitor, evaluation: Evaluation) -> None:
    changed = Alert.objects.filter(monitor=monitor, state__in=Alert.OPEN).update(
        state=Alert.State.RESOLVED, resolved_at=evaluation.evaluated_at
    )
    if changed:
        record(
            _actor(monitor),
            "monitor.alert_resolved",
            asset=monitor.asset,
            details={"monitor": monitor.name},
        )


def _summary(monitor: Monitor, evaluation: Evaluation) -> dict[str, Any]:
    return {
        "monitor": monitor.name,
        "kind": monitor.kind,
        "value": evaluation.value,
        "threshold": monitor.threshold,
        "samples": evaluation.samples,
        **{
            key: evaluation.details[key]
            for key in ("drifted", "failing")
            if key in evaluation.details
        },
    }


def _actor(monitor: Monitor) -> str:
    return f"monitor:{monitor.asset.ref}/{monitor.name}"


@transaction.atomic
def acknowledge(actor: Actor, alert_id: int) -> Alert:
    alert = (
        Alert.objects.select_for_update()
        .select_related("monitor__asset")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        raise NotFound(f"No alert {alert_id}; `modelyard monitor alerts TEAM/NAME` lists them.")
    if alert.state != Alert.State.FIRING:
        raise Conflict(f"Alert {alert_id} is {alert.state}; only a firing alert is acknowledged.")
    alert.state = Alert.State.ACKNOWLEDGED
    alert.acknowledged_by = user_of(actor)
    alert.acknowledged_at = timezone.now()
    alert.save()
    record(
        actor, "monitor.alert_acknowledged", asset=alert.monitor.asset, details={"alert": alert.pk}
    )
    return alert
