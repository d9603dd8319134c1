"""The measures of the drift, prediction-drift, data-quality and traffic monitors, each read
off the per-window summaries of its window (summaries.py), never off the raw log.

Each returns (outcome, value, samples, details), like services' other measures.
"""

from __future__ import annotations

from typing import Any

from modelyard.monitoring import columns, reference, stats
from modelyard.monitoring.models import Evaluation, LogSettings, Monitor, WindowSummary

Measure = tuple[str, float | None, int, dict[str, Any]]
NO_DATA = Evaluation.Outcome.NO_DATA


def outcome(failing: bool) -> str:
    return Evaluation.Outcome.FAILING if failing else Evaluation.Outcome.HEALTHY


def _summed(summaries: list[WindowSummary], field: str) -> dict[str, list[int]]:
    total: dict[str, list[int]] = {}
    for summary in summaries:
        for name, counts in getattr(summary, field).items():
            total[name] = stats.add(total.get(name, []), counts)
    return total


def drift(monitor: Monitor, summaries: list[WindowSummary]) -> Measure:
    """Input drift: PSI and a two-sample test per feature against the reference."""
    rows = sum(s.rows for s in summaries)
    if rows < monitor.min_samples or not summaries:
        return NO_DATA, None, rows, {}
    profile = reference.profile_for(summaries[0].version)
    live = _summed(summaries, "feature_counts")
    if not live:  # traffic logged before the version had a profile: nothing to compare
        return NO_DATA, None, rows, {}
    return _compared(monitor, profile.features, profile.rows, live, rows, profile.source)


def prediction_drift(monitor: Monitor, summaries: list[WindowSummary]) -> Measure:
    """Output drift: the same, per output, against the version's outputs on its reference."""
    rows = sum(s.rows for s in summaries)
    if rows < monitor.min_samples or not summaries:
        return NO_DATA, None, rows, {}
    profile = reference.outputs_profile_for(summaries[0].version)
    live = _summed(summaries, "output_counts")
    if not live or profile.outputs is None:  # logged before the outputs were profiled
        return NO_DATA, None, rows, {}
    return _compared(monitor, profile.outputs, profile.output_rows, live, rows, profile.source)


def _compared(
    monitor: Monitor,
    profiled: dict[str, columns.Column],
    reference_rows: int,
    live: dict[str, list[int]],
    rows: int,
    source: str,
) -> Measure:
    compared: dict[str, Any] = {}
    for name, counts in live.items():
        if name not in profiled or sum(counts) < monitor.min_samples:
            continue  # a column mostly missing: data quality's to report, not drift's
        figures = columns.compare(profiled[name], reference_rows, counts)
        drifted = figures["psi"] > monitor.threshold and figures["p_value"] < monitor.ks_pvalue
        compared[name] = {**figures, "drifted": drifted}
    if not compared:
        return NO_DATA, None, rows, {}
    drifted = sorted(name for name, f in compared.items() if f["drifted"])
    worst = max(f["psi"] for f in compared.values())
    details = {"features": compared, "drifted": drifted, "reference": source}
    return outcome(bool(drifted)), worst, rows, details


def quality(monitor: Monitor, summaries: list[WindowSummary]) -> Measure:
    """The worst feature's share of bad values (missing, of the wrong type, out of the
    reference's range) among the window's rows."""
    rows = sum(s.rows for s in summaries)
    counted = _summed(summaries, "quality_counts")
    if rows < monitor.min_samples or not counted:
        return NO_DATA, None, rows, {}
    features = {}
    for name, counts in counted.items():
        figures = dict(zip(columns.QUALITY_FIELDS, counts, strict=True))
        share = sum(counts) / rows
        features[name] = {**figures, "share": share, "failing": share > monitor.threshold}
    failing = sorted(name for name, f in features.items() if f["failing"])
    worst = max(f["share"] for f in features.values())
    return outcome(bool(failing)), worst, rows, {"features": features, "failing": failing}


def traffic(monitor: Monitor, summaries: list[WindowSummary]) -> Measure:
    """Requests to the model (any version) in the window, estimated from the logged ones by
    the sample rate; failing below the threshold (1: no request at all)."""
    logged = sum(s.requests for s in summaries)
    rate = LogSettings.objects.filter(asset=monitor.asset).values_list("sample_rate", flat=True)
    sample_rate = rate.first()
    if sample_rate == 0.0:
        return NO_DATA, None, logged, {"reason": "the prediction log's sample rate is 0"}
    requests = logged / (sample_rate or 1.0)
    details = {"logged": logged, "sample_rate": sample_rate or 1.0, "floor": monitor.threshold}
    return outcome(requests < monitor.threshold), requests, logged, details
