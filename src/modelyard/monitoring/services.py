"""Changes to monitoring's state: monitors, sample rates, feedback, evaluations, alerts.

One transaction each, each writing its audit row where a person or a monitor acted.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from modelyard.accounts.models import Team
from modelyard.audit.services import record
from modelyard.lib.errors import Conflict, InvalidInput, ModelyardError, NotFound
from modelyard.monitoring import live, reactions, reference, stats, webhooks
from modelyard.monitoring.models import (
    Alert,
    Evaluation,
    Feedback,
    LogSettings,
    Monitor,
    TeamAlerting,
    WindowSummary,
)
from modelyard.registry.models import Alias, Asset, Kind
from modelyard.registry.services import Actor, user_of

log = logging.getLogger(__name__)
MAX_FEEDBACK = 10_000


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
def declare_monitor(actor: Actor, asset: Asset, name: str, kind: str, **fields: Any) -> Monitor:
    """Create or replace the model's monitor `name`; a drift monitor needs reference data."""
    _model(asset)
    if kind not in Monitor.Kind.values:
        raise InvalidInput(
            f"Unknown monitor kind {kind!r}; use one of {', '.join(Monitor.Kind.values)}."
        )
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
    if kind == Monitor.Kind.DRIFT:
        holder = (
            Alias.objects.filter(asset=asset, name=monitor.alias).select_related("version").first()
        )
        if holder is not None:
            reference.profile_for(holder.version)  # fails here, not at the first evaluation
    record(actor, "monitor.declared", asset=asset, details={"monitor": name, "kind": kind})
    return monitor


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


@transaction.atomic
def record_feedback(actor: Actor, asset: Asset, labels: list[tuple[str, Any]]) -> int:
    """Store true labels by request id; a label sent again replaces the earlier one."""
    _model(asset)
    if not labels or len(labels) > MAX_FEEDBACK:
        raise InvalidInput(f"Send between 1 and {MAX_FEEDBACK} labels per request.")
    for request_id, label in labels:
        Feedback.objects.update_or_create(
            asset=asset, request_id=request_id, defaults={"label": label}
        )
    record(actor, "model.feedback_received", asset=asset, details={"labels": len(labels)})
    return len(labels)


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
    summaries = WindowSummary.objects.filter(
        version_id=holder.version_id if holder else None,
        window_start__gte=now - timedelta(seconds=monitor.window_seconds),
    )
    if monitor.kind == Monitor.Kind.LIVE_METRIC:
        outcome, value, samples, details = _live_metric(monitor, holder, now)
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
    if monitor.kind == Monitor.Kind.DRIFT:
        _profile_holder(monitor)
    return evaluation


def _profile_holder(monitor: Monitor) -> None:
    """Profile the version the alias points at now (after a promotion or a rollback), so
    the log counts its traffic into reference bins from its first batch."""
    holder = Alias.objects.filter(asset=monitor.asset, name=monitor.alias).first()
    if holder is None:
        return
    try:
        reference.profile_for(holder.version)
    except InvalidInput as error:  # the declared monitor stays; its evaluations say NO_DATA
        log.warning("No drift reference for %s: %s", holder.version.ref, error)


def _measure(
    monitor: Monitor, summaries: list[WindowSummary]
) -> tuple[str, float | None, int, dict[str, Any]]:
    if monitor.kind == Monitor.Kind.DRIFT:
        return _drift(monitor, summaries)
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


def _drift(
    monitor: Monitor, summaries: list[WindowSummary]
) -> tuple[str, float | None, int, dict[str, Any]]:
    rows = sum(s.rows for s in summaries)
    if rows < monitor.min_samples or not summaries:
        return Evaluation.Outcome.NO_DATA, None, rows, {}
    profile = reference.profile_for(summaries[0].version)
    live: dict[str, list[int]] = {}
    for summary in summaries:
        for name, counts in summary.feature_counts.items():
            live[name] = stats.add(live.get(name, []), counts)
    features: dict[str, Any] = {}
    if not live:  # traffic logged before the version had a profile: nothing to compare
        return Evaluation.Outcome.NO_DATA, None, rows, {}
    for name, counts in live.items():
        shares = profile.features[name]["shares"]
        statistic, pvalue = stats.ks(shares, profile.rows, counts)
        psi = stats.psi(shares, counts)
        drifts = psi > monitor.threshold and pvalue < monitor.ks_pvalue
        features[name] = {"psi": psi, "ks": statistic, "p_value": pvalue, "drifted": drifts}
    drifted = sorted(name for name, f in features.items() if f["drifted"])
    worst = max((f["psi"] for f in features.values()), default=0.0)
    details = {"features": features, "drifted": drifted, "reference": profile.source}
    return _outcome(bool(drifted)), worst, rows, details


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
    return Evaluation.Outcome.FAILING if failing else Evaluation.Outcome.HEALTHY


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
        **({"drifted": evaluation.details["drifted"]} if "drifted" in evaluation.details else {}),
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
