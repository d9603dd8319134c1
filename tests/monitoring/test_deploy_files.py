"""The example Prometheus rules and Grafana dashboard under deploy/ name only metrics that
modelyard exports, so a renamed metric fails here rather than in someone's on-call."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bmodelyard_[a-z_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> set[str]:
    """The series names of every modelyard metric: the serving metrics, the log's drop
    counter and the monitors' gauges, as a scrape of /metrics shows them."""
    import modelyard.monitoring.gauges
    import modelyard.monitoring.log
    import modelyard.serving.metrics  # noqa: F401

    names = set()
    for family in REGISTRY.collect():
        for suffix in SUFFIXES.get(family.type, ()):
            names.add(family.name + suffix)
    return {name for name in names if name.startswith("modelyard_")}


def expressions() -> dict[str, list[str]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "modelyard-alerts.yml").read_text())
    dashboard = json.loads((DEPLOY / "grafana" / "modelyard-dashboard.json").read_text())
    return {
        "rules": [rule["expr"] for group in rules["groups"] for rule in group["rules"]],
        "dashboard": [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
        + [dashboard["templating"]["list"][1]["query"]["query"]],
    }


def test_every_metric_the_rules_and_dashboard_use_is_exported() -> None:
    known = exported()
    for source, exprs in expressions().items():
        used = {name for expr in exprs for name in METRIC.findall(expr)}
        assert used, f"{source} names no metric"
        assert used <= known, f"{source} uses metrics modelyard does not export: {used - known}"


def test_the_files_cover_drift_the_live_metric_and_failing_monitors() -> None:
    used = {name for exprs in expressions().values() for e in exprs for name in METRIC.findall(e)}

    assert {"modelyard_drift_psi", "modelyard_live_metric", "modelyard_monitor_failing"} <= used
    assert "modelyard_live_metric_promoted" in used
