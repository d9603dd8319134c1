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


def refresh(asset_ids: set[int]) -> None:
    """Set the gauges of the monitors of these models (the ones this worker logged)."""
    monitors = Monitor.objects.filter(asset_id__in=asset_ids).select_related("asset__team")
    for monitor in monitors:
        last = Evaluation.objects.filter(monitor=monitor, value__isnull=False).first()
        if last is None:
            continue
        model = monitor.asset.ref
        MONITOR_VALUE.labels(model, monitor.name, monitor.kind).set(last.value or 0.0)
        for feature, figures in last.details.get("features", {}).items():
            DRIFT_PSI.labels(model, monitor.name, feature).set(figures["psi"])
