"""Per-window summaries of the prediction log, added to as each batch is written.

Each (model version, window) has one row: request and error counts, a latency histogram
and, when the version has a reference profile, per input feature its counts in the
reference's bins and its data-quality counts, and per output (once prediction drift asked
for their profile) its counts too. Monitors add up the rows of their window; nothing ever
reads the raw log again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db import transaction

from modelyard.monitoring import columns, stats
from modelyard.monitoring.models import (
    LoggedOutput,
    LogSettings,
    Monitor,
    ReferenceProfile,
    WindowSummary,
)

if TYPE_CHECKING:
    from modelyard.monitoring.log import Record

PROFILE_RECHECK_SECONDS = 30.0
_profiles: dict[int, tuple[float, ReferenceProfile | None]] = {}
_live: dict[int, tuple[float, tuple[str, ...] | None]] = {}


def window_start(at: float) -> datetime:
    width = settings.MONITORING_WINDOW_SECONDS
    return datetime.fromtimestamp(at - at % width, UTC)


def add_batch(asset_id: int, records: Sequence[Record]) -> None:
    groups: dict[tuple[int, datetime], list[Record]] = {}
    for record in records:
        groups.setdefault((record.version_id, window_start(record.at)), []).append(record)
    for (version_id, start), group in groups.items():
        _add(asset_id, version_id, start, group)
    entity_keys = _keeps_outputs(asset_id)
    if entity_keys is not None:
        _keep_outputs(asset_id, records, entity_keys)


def _keep_outputs(asset_id: int, records: Sequence[Record], entity_keys: tuple[str, ...]) -> None:
    LoggedOutput.objects.bulk_create(
        [
            LoggedOutput(
                asset_id=asset_id,
                version_id=record.version_id,
                request_id=record.request_id,
                logged_at=datetime.fromtimestamp(record.at, UTC),
                outputs={k: np.asarray(v).tolist() for k, v in record.outputs.items()},
                keys=_entities(record, entity_keys),
            )
            for record in records
            if record.status < 400 and record.outputs is not None
        ]
    )


def _entities(record: Record, entity_keys: tuple[str, ...]) -> list[str]:
    """Each row's entity as text (feedback.entity_text), when the keys are all inputs."""
    if not entity_keys or record.rows is None or not set(entity_keys) <= set(record.features):
        return []
    matrix = np.asarray(record.rows)
    positions = [record.features.index(key) for key in entity_keys]
    return [
        entity_text(dict(zip(entity_keys, row[positions].tolist(), strict=True))) for row in matrix
    ]


def entity_text(keys: dict[str, Any]) -> str:
    """`user_id=42,region=3`: the keys in name order, whole numbers without a decimal point,
    so 42, 42.0 and "42" name the same entity."""
    return ",".join(f"{name}={_key_value(keys[name])}" for name in sorted(keys))


def _key_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _keeps_outputs(asset_id: int) -> tuple[str, ...] | None:
    """The model's entity keys when it has a live-metric monitor, None when it has none
    (asked again every 30 seconds)."""
    cached = _live.get(asset_id)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    wanted = Monitor.objects.filter(asset_id=asset_id, kind=Monitor.Kind.LIVE_METRIC).exists()
    keys = LogSettings.objects.filter(asset_id=asset_id).values_list("entity_keys", flat=True)
    found = (tuple(keys.first() or ()),) if wanted else (None,)
    _live[asset_id] = (time.monotonic() + PROFILE_RECHECK_SECONDS, found[0])
    return found[0]


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
    answered = [r for r in records if r.status < 400 and r.rows is not None]
    if answered:
        summary.rows += sum(len(r.rows) for r in answered)
        profile = _profile(version_id)
        if profile is not None:
            _count(summary, profile, records[0].features, answered)
    summary.save()


def _count(
    summary: WindowSummary,
    profile: ReferenceProfile,
    features: tuple[str, ...],
    answered: list[Record],
) -> None:
    rows = np.concatenate([np.asarray(r.rows, dtype=np.float64) for r in answered])
    inputs = {name: rows[:, position] for position, name in enumerate(features)}
    counts, quality = columns.add_counts(summary.feature_counts, profile.features, inputs, True)
    summary.feature_counts = counts
    summary.quality_counts = {
        name: stats.add(summary.quality_counts.get(name, []), q) for name, q in quality.items()
    }
    if profile.outputs:
        outputs = _outputs(answered)
        added, _ = columns.add_counts(summary.output_counts, profile.outputs, outputs)
        summary.output_counts = added


def _outputs(answered: list[Record]) -> dict[str, Any]:
    per_record = [columns.output_columns(r.outputs) for r in answered if r.outputs is not None]
    names = set.intersection(*(set(p) for p in per_record)) if per_record else set()
    return {name: np.concatenate([p[name] for p in per_record]) for name in names}


def _profile(version_id: int) -> ReferenceProfile | None:
    """The version's reference profile, cached; read again every 30 seconds (a missing one
    appears, prediction drift adds its outputs)."""
    cached = _profiles.get(version_id)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    row = ReferenceProfile.objects.filter(version_id=version_id).first()
    _profiles[version_id] = (time.monotonic() + PROFILE_RECHECK_SECONDS, row)
    return row


def forget_profiles() -> None:
    _profiles.clear()
    _live.clear()
