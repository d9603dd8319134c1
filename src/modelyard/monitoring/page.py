"""What the monitoring tab shows, read from the summaries, evaluations and alerts of one
model over a time range: traffic, error rate and latency from the per-window summaries
(every version), each monitor's evaluations (drift per feature, the live metric against
the promotion score, any other kind's value against its threshold), and the alert timeline.

A fixed number of queries per page: one for the summaries, one for the evaluations, one
for the alerts, whatever the range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings

from modelyard.monitoring import stats
from modelyard.monitoring.charts import (
    PALETTE,
    SPAN_COLORS,
    Axis,
    Reference,
    Series,
    Span,
    bar_chart,
    line_chart,
    span_chart,
)
from modelyard.monitoring.models import Alert, Evaluation, Monitor, WindowSummary
from modelyard.registry.models import Asset

RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(days=1)}
RANGES["7d"] = timedelta(days=7)
BUCKETS = 60  # bars and points per chart, at most
DRIFT_LINES = 6  # features drawn per drift chart; the table lists them all
SUMMARY_KINDS = ("errors", "latency")  # drawn from the summaries, not from their evaluations


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    legend: list[tuple[str, str, bool]] = field(default_factory=list)  # name, colour, dashed
    note: str = ""


@dataclass(frozen=True)
class FeatureRow:
    name: str
    psi: float
    p_value: float | None
    drifted: bool


@dataclass(frozen=True)
class DriftView:
    monitor: Monitor
    chart: Chart
    features: list[FeatureRow]


@dataclass(frozen=True)
class Tab:
    axis: Axis
    range_name: str
    traffic: list[Chart]
    drift: list[DriftView]
    live: list[Chart]
    others: list[Chart]
    timeline: Chart | None
    has_data: bool


def build(asset: Asset, monitors: Sequence[Monitor], range_name: str, now: datetime) -> Tab:
    since = now - RANGES[range_name]
    summaries = list(
        WindowSummary.objects.filter(asset=asset, window_start__gte=since)
        .select_related("version")
        .order_by("window_start")
    )
    evaluations = list(
        Evaluation.objects.filter(monitor__in=monitors, evaluated_at__gte=since).order_by(
            "evaluated_at", "id"
        )
    )
    alerts = list(
        Alert.objects.filter(monitor__in=monitors)
        .exclude(resolved_at__lt=since)
        .select_related("acknowledged_by")
    )
    axis = Axis.over(_first([s.window_start for s in summaries], evaluations, since, now), now)
    by_monitor: dict[int, list[Evaluation]] = {}
    for evaluation in evaluations:
        by_monitor.setdefault(evaluation.monitor_id, []).append(evaluation)
    return Tab(
        axis=axis,
        range_name=range_name,
        traffic=traffic_charts(axis, summaries, monitors),
        drift=[drift_view(axis, m, by_monitor.get(m.pk, [])) for m in monitors if _drifts(m)],
        live=[
            live_chart(axis, m, by_monitor.get(m.pk, []))
            for m in monitors
            if m.kind == Monitor.Kind.LIVE_METRIC
        ],
        others=[
            value_chart(axis, m, by_monitor.get(m.pk, []))
            for m in monitors
            if not _drifts(m) and m.kind not in (*SUMMARY_KINDS, Monitor.Kind.LIVE_METRIC)
        ],
        timeline=timeline_chart(axis, monitors, alerts, now) if monitors else None,
        has_data=bool(summaries or evaluations or alerts),
    )


def _first(
    windows: list[datetime], evaluations: list[Evaluation], since: datetime, now: datetime
) -> datetime:
    """Start the axis at the first data in range (a quiet model's tab is not one thin
    sliver at the right), a little before it; never before the range."""
    moments = windows[:1] + [e.evaluated_at for e in evaluations[:1]]
    if not moments:
        return since
    earliest = min(moments)
    return max(since, earliest - max(timedelta(seconds=30), (now - earliest) / 20))


def _drifts(monitor: Monitor) -> bool:
    """Drift on inputs, and any other kind that reports PSI per feature (prediction drift)."""
    return monitor.kind == Monitor.Kind.DRIFT or "drift" in monitor.kind


# --- from the summaries -------------------------------------------------------------------


def bucket_width(axis: Axis) -> timedelta:
    """A whole number of summary windows, so that no window is split between two bars."""
    window = settings.MONITORING_WINDOW_SECONDS
    span = (axis.end - axis.start).total_seconds()
    return timedelta(seconds=window * max(1, math.ceil(span / BUCKETS / window)))


def _bucket(at: datetime, width: timedelta) -> datetime:
    seconds = width.total_seconds()
    stamp = at.timestamp()
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


def traffic_charts(
    axis: Axis, summaries: list[WindowSummary], monitors: Sequence[Monitor]
) -> list[Chart]:
    width = bucket_width(axis)
    requests: dict[int, dict[datetime, float]] = {}
    errors: dict[datetime, list[int]] = {}
    latency: dict[datetime, list[int]] = {}
    for summary in summaries:
        at = _bucket(summary.window_start, width)
        per_version = requests.setdefault(summary.version.version, {})
        per_version[at] = per_version.get(at, 0.0) + summary.requests
        counts = errors.setdefault(at, [0, 0])
        counts[0] += summary.client_errors + summary.server_errors
        counts[1] += summary.requests
        latency[at] = stats.add(latency.get(at, []), summary.latency_counts)
    per_minute = 60 / width.total_seconds()
    traffic = [
        Series(f"v{number}", [(at, n * per_minute) for at, n in sorted(points.items())], colour)
        for (number, points), colour in zip(sorted(requests.items()), _colours(), strict=False)
    ]
    return [
        Chart(
            "Traffic (requests a minute, by version)",
            bar_chart(axis, width, traffic, "/min"),
            [(s.name, s.color, False) for s in traffic],
            note=f"One bar per {_duration(width)}.",
        ),
        _error_chart(axis, errors, _thresholds(monitors, Monitor.Kind.ERRORS, 100.0)),
        _latency_chart(axis, latency, _thresholds(monitors, Monitor.Kind.LATENCY, 1.0)),
    ]


def _thresholds(monitors: Sequence[Monitor], kind: str, factor: float) -> list[Reference]:
    return [
        Reference(f"{m.name} threshold", m.threshold * factor) for m in monitors if m.kind == kind
    ]


def _error_chart(
    axis: Axis, errors: dict[datetime, list[int]], references: list[Reference]
) -> Chart:
    points = [
        (at, 100.0 * failed / total if total else None)
        for at, (failed, total) in sorted(errors.items())
    ]
    series = [Series("4xx and 5xx", points, PALETTE[5])]
    legend = [("4xx and 5xx", PALETTE[5], False)] + [(r.name, r.color, True) for r in references]
    return Chart("Error rate", line_chart(axis, series, references, "%"), legend)


def _latency_chart(axis: Axis, latency: dict[datetime, list[int]], refs: list[Reference]) -> Chart:
    series = [
        Series(
            name,
            [(at, _percentile_ms(counts, share)) for at, counts in sorted(latency.items())],
            colour,
        )
        for name, share, colour in (("p50", 0.5, PALETTE[0]), ("p99", 0.99, PALETTE[1]))
    ]
    legend = [(s.name, s.color, False) for s in series] + [(r.name, r.color, True) for r in refs]
    return Chart(
        "Latency inside the server",
        line_chart(axis, series, refs, " ms"),
        legend,
        note="Read from the log's latency histogram: each value is its bucket's upper bound.",
    )


def _percentile_ms(counts: Sequence[int], share: float) -> float | None:
    total = sum(counts)
    if total == 0:
        return None
    running = 0
    for index, count in enumerate(counts):
        running += count
        if running >= share * total:
            bound = stats.LATENCY_BOUNDS[min(index, len(stats.LATENCY_BOUNDS) - 2)]
            return float(bound) * 1000
    return None


# --- from the evaluations -----------------------------------------------------------------


def drift_view(axis: Axis, monitor: Monitor, evaluations: list[Evaluation]) -> DriftView:
    measured = [e for e in evaluations if e.details.get("features")]
    latest = measured[-1].details["features"] if measured else {}
    features = sorted(
        (
            FeatureRow(name, float(f["psi"]), f.get("p_value"), bool(f.get("drifted")))
            for name, f in latest.items()
        ),
        key=lambda row: (-row.psi, row.name),
    )
    worst: dict[str, float] = {}
    for evaluation in measured:
        for name, figures in evaluation.details["features"].items():
            worst[name] = max(worst.get(name, 0.0), float(figures["psi"]))
    drawn = sorted(worst, key=lambda name: (-worst[name], name))[:DRIFT_LINES]
    series = [
        Series(name, [(e.evaluated_at, _psi(e, name)) for e in measured], colour)
        for name, colour in zip(drawn, _colours(), strict=False)
    ]
    threshold = Reference("threshold", monitor.threshold)
    note = (
        f"The {len(drawn)} features with the largest PSI of {len(worst)}; the table lists all."
        if len(worst) > len(drawn)
        else ""
    )
    legend = [(s.name, s.color, False) for s in series] + [("threshold", threshold.color, True)]
    chart = Chart(
        f"Drift per feature (PSI) · {monitor.name}",
        line_chart(axis, series, [threshold]),
        legend,
        note,
    )
    return DriftView(monitor, chart, features)


def _psi(evaluation: Evaluation, feature: str) -> float | None:
    figures = evaluation.details.get("features", {}).get(feature)
    return None if figures is None else float(figures["psi"])


def live_chart(axis: Axis, monitor: Monitor, evaluations: list[Evaluation]) -> Chart:
    scored = [e for e in evaluations if e.details.get("live") is not None]
    metric = scored[-1].details.get("metric", "metric") if scored else "metric"
    live = Series(f"live {metric}", [(e.evaluated_at, e.details["live"]) for e in scored])
    references = []
    if scored:
        promoted = float(scored[-1].details["promoted"])
        references = [
            Reference("at promotion", promoted, PALETTE[2]),
            Reference("alert line", promoted - monitor.threshold),
        ]
    legend = [(live.name, live.color, False)] + [(r.name, r.color, True) for r in references]
    note = "" if scored else _no_verdict(evaluations)
    return Chart(
        f"Live metric against the promotion score · {monitor.name}",
        line_chart(axis, [live], references, floor=None),
        legend,
        note,
    )


def _no_verdict(evaluations: list[Evaluation]) -> str:
    reason = next((e.details["reason"] for e in reversed(evaluations) if "reason" in e.details), "")
    return reason or "No verdict yet: too little feedback in the window."


def value_chart(axis: Axis, monitor: Monitor, evaluations: list[Evaluation]) -> Chart:
    series = Series(monitor.kind, [(e.evaluated_at, e.value) for e in evaluations])
    threshold = Reference("threshold", monitor.threshold)
    return Chart(
        f"{monitor.get_kind_display()} · {monitor.name}",
        line_chart(axis, [series], [threshold], floor=None),
        [(series.name, series.color, False), ("threshold", threshold.color, True)],
    )


def timeline_chart(
    axis: Axis, monitors: Sequence[Monitor], alerts: Iterable[Alert], now: datetime
) -> Chart:
    names = {m.pk: m.name for m in monitors}
    spans = [
        Span(
            names[alert.monitor_id],
            alert.fired_at,
            alert.resolved_at or now,
            alert.state,
            f"alert {alert.pk} ({alert.state}) fired {alert.fired_at:%Y-%m-%d %H:%M:%S}",
        )
        for alert in alerts
        if alert.monitor_id in names
    ]
    legend = [(state, colour, False) for state, colour in SPAN_COLORS.items()]
    return Chart("Alert timeline", span_chart(axis, [m.name for m in monitors], spans), legend)


def _colours() -> Iterable[str]:
    while True:
        yield from PALETTE


def _duration(width: timedelta) -> str:
    seconds = int(width.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
