"""The live-metric monitor: the gate's metric on logged outputs joined with feedback, against
the score the version had when it was promoted (the gate's champion check)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from modelyard.deployment import evaluation
from modelyard.deployment.models import Promotion
from modelyard.lib.errors import InvalidInput
from modelyard.monitoring.models import Feedback, LoggedOutput, Monitor
from modelyard.registry.models import AssetVersion

Measure = tuple[bool | None, float | None, int, dict[str, Any]]


def promotion_score(monitor: Monitor, version: AssetVersion) -> dict[str, Any] | None:
    """The champion check's details of the promotion that put `version` behind the alias."""
    promotion = Promotion.objects.filter(
        asset=monitor.asset,
        alias=monitor.alias,
        to_version=version,
        outcome__in=[Promotion.Outcome.PROMOTED, Promotion.Outcome.FORCED],
    ).first()
    checks = (promotion.report or {}).get("checks", []) if promotion else []
    champion: dict[str, Any] = next((c for c in checks if c.get("name") == "champion"), {})
    details: dict[str, Any] = champion.get("details") or {}
    return details if details.get("candidate_score") is not None else None


def measure(monitor: Monitor, version: AssetVersion, since: datetime) -> Measure:
    """(failing or None for no verdict, live score, labelled rows, details)."""
    promoted = promotion_score(monitor, version)
    if promoted is None:
        reason = f"{version.ref} has no promotion score (promote it through the gate)"
        return None, None, 0, {"reason": reason}
    labels, outputs = _joined(monitor, version, since)
    if len(labels) < monitor.min_samples:
        return None, None, len(labels), {}
    metric = evaluation.METRICS[promoted["metric"]]
    try:
        live = metric.score(labels, outputs)
    except (InvalidInput, ValueError) as error:  # labels the metric cannot use
        return None, None, len(labels), {"reason": str(error)}
    drop = (
        promoted["candidate_score"] - live
        if metric.higher_is_better
        else live - promoted["candidate_score"]
    )
    details = {
        "metric": metric.name,
        "live": live,
        "promoted": promoted["candidate_score"],
        "drop": drop,
    }
    return drop > monitor.threshold, live, len(labels), details


def _joined(monitor: Monitor, version: AssetVersion, since: datetime) -> tuple[Any, dict[str, Any]]:
    logged = list(
        LoggedOutput.objects.filter(version=version, logged_at__gte=since).order_by("logged_at")
    )
    by_request = {row.request_id: row.outputs for row in logged}
    feedback = Feedback.objects.filter(asset=monitor.asset, request_id__in=list(by_request))
    labels: list[Any] = []
    columns: dict[str, list[Any]] = {}
    for item in feedback:
        outputs = by_request[item.request_id]
        rows = _rows(item.label, outputs)
        labels.extend(_as_list(item.label)[:rows])
        for name, values in outputs.items():
            columns.setdefault(name, []).extend(values[:rows])
    _join_entities(monitor, logged, since, labels, columns)
    return np.asarray(labels), {name: np.asarray(values) for name, values in columns.items()}


def _join_entities(
    monitor: Monitor,
    logged: list[LoggedOutput],
    since: datetime,
    labels: list[Any],
    columns: dict[str, list[Any]],
) -> None:
    """Labels by entity and time: each joins the latest row logged for its entity at or
    before its time (within the window)."""
    feedback = Feedback.objects.filter(asset=monitor.asset, event_at__gte=since).exclude(entity="")
    if not feedback.exists():
        return
    rows: dict[str, list[tuple[datetime, LoggedOutput, int]]] = {}
    for row in logged:  # in time order, so each entity's list is sorted
        for position, entity in enumerate(row.keys):
            rows.setdefault(entity, []).append((row.logged_at, row, position))
    for item in feedback:
        candidates = rows.get(item.entity, [])
        found = bisect.bisect_right([at for at, _, _ in candidates], item.event_at or since)
        if found == 0:
            continue  # no prediction for it in the window (yet)
        _, row, position = candidates[found - 1]
        labels.append(item.label)
        for name, values in row.outputs.items():
            columns.setdefault(name, []).append(values[position])


def _rows(label: Any, outputs: dict[str, Sequence[Any]]) -> int:
    """A scalar label is the request's first row's; a list labels its rows in order."""
    available = min((len(values) for values in outputs.values()), default=0)
    return min(len(_as_list(label)), available)


def _as_list(label: Any) -> list[Any]:
    return label if isinstance(label, list) else [label]
