"""Per-window summaries of the prediction log, added to as each batch is written.

Each (model version, window) has one row: request and error counts, a latency histogram
and, per input feature, counts in the version's reference bins (when it has a reference
profile). Monitors add up the rows of their window; nothing ever reads the raw log again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db import transaction

from modelyard.monitoring import stats
from modelyard.monitoring.models import LoggedOutput, Monitor, ReferenceProfile, WindowSummary

if TYPE_CHECKING:
    from modelyard.monitoring.log import Record

PROFILE_RECHECK_SECONDS = 30.0
_profiles: dict[int, tuple[float, dict[str, Any] | None]] = {}
_live: dict[int, tuple[float, bool]] = {}


def window_start(at: float) -> datetime:
    width = settings.MONITORING_WINDOW_SECONDS
    return datetime.fromtimestamp(at - at % width, UTC)


def add_batch(asset_id: int, records: Sequence[Record]) -> None:
    groups: dict[tuple[int, datetime], list[Record]] = {}
    for record in records:
        groups.setdefault((record.version_id, window_start(record.at)), []).append(record)
    for (version_id, start), group in groups.items():
        _add(asset_id, version_id, start, group)
    if _keeps_outputs(asset_id):
        _keep_outputs(asset_id, records)


def _keep_outputs(asset_id: int, records: Sequence[Record]) -> None:
    LoggedOutput.objects.bulk_create(
        [
            LoggedOutput(
                asset_id=asset_id,
                version_id=record.version_id,
                request_id=record.request_id,
                logged_at=datetime.fromtimestamp(record.at, UTC),
                outputs={k: np.asarray(v).tolist() for k, v in record.outputs.items()},
            )
            for record in records
            if record.status < 400 and record.outputs is not None
        ]
    )


def _keeps_outputs(asset_id: int) -> bool:
    """Whether the model has a live-metric monitor (asked again every 30 seconds)."""
    cached = _live.get(asset_id)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    wanted = Monitor.objects.filter(asset_id=asset_id, kind=Monitor.Kind.LIVE_METRIC).exists()
    _live[asset_id] = (time.monotonic() + PROFILE_RECHECK_SECONDS, wanted)
    return wanted


@transaction.atomic
def _add(asset_id: int, version_id: int, start: datetime, records: list[Record]) -> None:
    summary, _ = WindowSummary.objects.select_for_update().get_or_create(
        asset_id=asset_id, version_id=version_id, window_start=start
    )
    summary.requests += len(records)
    summary.client_errors += sum(1 for r in records if 400 <= r.status < 500)
    summary.server_errors += sum(1 for r in records if r.status >= 500)
    seconds = np.asarray([r.seconds for r in records], dtype=np.float64)
    summary.latency_counts = stats.add(summary.latency_counts, stats.latency_counts(seconds))
    matrices = [np.asarray(r.rows) for r in records if r.status < 400 and r.rows is not None]
    if matrices:
        summary.rows += sum(len(m) for m in matrices)
        _count_features(summary, records[0].features, np.concatenate(matrices), version_id)
    summary.save()


def _count_features(
    summary: WindowSummary, features: tuple[str, ...], rows: Any, version_id: int
) -> None:
    profile = _profile(version_id)
    if profile is None:
        return
    counts = dict(summary.feature_counts)
    for position, name in enumerate(features):
        if name in profile:
            live = stats.bin_counts(rows[:, position], profile[name]["edges"])
            counts[name] = stats.add(counts.get(name, []), live.tolist())
    summary.feature_counts = counts


def _profile(version_id: int) -> dict[str, Any] | None:
    """The version's reference features, cached; a missing one is looked for again later."""
    cached = _profiles.get(version_id)
    if cached is not None and (cached[1] is not None or time.monotonic() < cached[0]):
        return cached[1]
    row = ReferenceProfile.objects.filter(version_id=version_id).first()
    features = row.features if row else None
    _profiles[version_id] = (time.monotonic() + PROFILE_RECHECK_SECONDS, features)
    return features


def forget_profiles() -> None:
    _profiles.clear()
    _live.clear()
