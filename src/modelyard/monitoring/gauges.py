"""Monitor results as Prometheus gauges on the prediction server's `/metrics`, beside its
request metrics: each serving worker copies the latest evaluations of its models' monitors
when its log writer reads its settings (every 30 seconds)."""

from __future__ import annotations

from prometheus_client import Gauge

from modelyard.monitoring.models import Evaluation, Monitor

MONITOR_VALUE = Gauge(
    "modelyard_monitor_value",
    "The last evaluated value of a monitor (drift: the largest PSI; live_metric: the score)",
    ["model", "monitor", "kind"],
    multiprocess_mode="max",
)
DRIFT_PSI = Gauge(
    "modelyard_drift_psi",
    "PSI of an input feature at the drift monitor's last evaluation",
    ["model", "monitor", "feature"],
    multiprocess_mode="max",
)

MONITOR_FAILING = Gauge(
    "modelyard_monitor_failing",
    "1 when a monitor's last evaluation failed, else 0 (no data counts as 0)",
    ["model", "monitor", "kind"],
    multiprocess_mode="max",
)
LIVE_METRIC = Gauge(
    "modelyard_live_metric",
    "The gate's metric on feedback at the live-metric monitor's last evaluation",
    ["model", "monitor", "metric"],
    multiprocess_mode="max",
)
LIVE_METRIC_PROMOTED = Gauge(
    "modelyard_live_metric_promoted",
    "The score the served version had when it was promoted (the live metric's baseline)",
    ["model", "monitor", "metric"],
    multiprocess_mode="max",
)


def refresh(asset_ids: set[int]) -> None:
    """Set the gauges of the monitors of these models (the ones this worker logged)."""
    monitors = Monitor.objects.filter(asset_id__in=asset_ids).select_related("asset__team")
    for monitor in monitors:
        model = monitor.asset.ref
        latest = Evaluation.objects.filter(monitor=monitor).first()
        if latest is not None:
            failing = latest.outcome == Evaluation.Outcome.FAILING
            MONITOR_FAILING.labels(model, monitor.name, monitor.kind).set(1.0 if failing else 0.0)
        last = Evaluation.objects.filter(monitor=monitor, value__isnull=False).first()
        if last is None:
            continue
        _live(model, monitor, last)
        MONITOR_VALUE.labels(model, monitor.name, monitor.kind).set(last.value or 0.0)
        for feature, figures in last.details.get("features", {}).items():
            DRIFT_PSI.labels(model, monitor.name, feature).set(figures["psi"])


def _live(model: str, monitor: Monitor, last: Evaluation) -> None:
    details = last.details
    if details.get("live") is None or details.get("promoted") is None:
        return
    metric = str(details.get("metric", ""))
    LIVE_METRIC.labels(model, monitor.name, metric).set(details["live"])
    LIVE_METRIC_PROMOTED.labels(model, monitor.name, metric).set(details["promoted"])
