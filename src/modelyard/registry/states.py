"""Every change of a version's lifecycle state, one or many at a time.

The registry owns `AssetVersion.lifecycle_state`: the lifecycle engine (notices, resets,
deletion after the final notice) and an owner's manual deletion both come through here, so
the protection rule (`protection.py`) and the audit action are written once.

Writes are set-based (one statement per batch; `UPDATE … WHERE id IN (… FOR UPDATE SKIP
LOCKED)` on PostgreSQL) because a million-version scan moves ~100,000 versions at once.
Each move is conditional on the state it starts from, so concurrent callers never move
a version twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from modelyard.audit.services import AuditRow, record_many
from modelyard.lib.tasks import enqueue
from modelyard.registry import protection, stores
from modelyard.registry.models import LIVE_STATES, AssetVersion, LifecycleState, unused_since

DELETE_TASK = "modelyard.registry.tasks.delete_version_bytes"


def move(
    ids: Sequence[int], sources: Sequence[str], target: str, at: datetime, *, clear_sent: bool
) -> set[int]:
    """Move the versions still in one of `sources` to `target`; return the ids moved.

    Rows another transaction holds are skipped (SKIP LOCKED), and a row another caller has
    already moved no longer matches `sources`, so concurrent callers never move one twice.
    `clear_sent` forgets the notices of the unused cycle (a reset to active).
    """
    if not ids:
        return set()
    if connection.vendor == "postgresql":
        return _move_postgres(ids, sources, target, at, clear_sent)
    changes: dict[str, Any] = {"lifecycle_state": target, "lifecycle_changed_at": at}
    if clear_sent:
        changes |= {"notice_sent_at": None, "final_notice_sent_at": None}
    locked = set(
        AssetVersion.objects.select_for_update(skip_locked=True)
        .filter(id__in=ids, lifecycle_state__in=sources)
        .values_list("id", flat=True)
    )
    AssetVersion.objects.filter(id__in=locked, lifecycle_state__in=sources).update(**changes)
    return locked


def _move_postgres(
    ids: Sequence[int], sources: Sequence[str], target: str, at: datetime, clear_sent: bool
) -> set[int]:
    table = AssetVersion._meta.db_table
    clear = ", notice_sent_at = NULL, final_notice_sent_at = NULL" if clear_sent else ""
    sql = (
        f"UPDATE {table} SET lifecycle_state = %s, lifecycle_changed_at = %s{clear} "  # noqa: S608
        f"WHERE id IN (SELECT id FROM {table} WHERE id = ANY(%s::bigint[]) "
        "AND lifecycle_state = ANY(%s::text[]) FOR UPDATE SKIP LOCKED) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [target, at, list(ids), list(sources)])
        return {row[0] for row in cursor.fetchall()}


def mark_notice_sent(ids: Sequence[int], field: str, at: datetime) -> int:
    """Stamp when a notice step first reached someone (`notice_sent_at`/`final_notice_sent_at`)."""
    if field not in ("notice_sent_at", "final_notice_sent_at"):
        raise ValueError(f"{field!r} is not a notice timestamp")
    return AssetVersion.objects.filter(id__in=ids, **{f"{field}__isnull": True}).update(
        **{field: at}
    )


@dataclass(frozen=True)
class Refused:
    """A version `schedule_deletions` did not move, and why (for the caller's message)."""

    version_id: int
    reason: str


@dataclass(frozen=True)
class Scheduled:
    moved: list[int]
    refused: list[Refused]


@transaction.atomic
def schedule_deletions(
    actor: Any,
    version_ids: Sequence[int],
    reason: str,
    *,
    unused_since: Mapping[int, datetime] | None = None,
    from_states: Sequence[str] = LIVE_STATES,
    details: Mapping[int, dict[str, Any]] | None = None,
) -> Scheduled:
    """Mark versions `deleting` and queue their bytes' removal after commit.

    A version moves only if it is in one of `from_states`, is not protected (any alias, pin,
    hold, declared dependency, or a protected version downstream), every artifact lies in a
    declared store that allows deletion (`stores.py`; the worker checks again), and, when
    `unused_since` gives the clock a caller planned on, nobody used, kept or protected it
    since. Rows are
    locked first, so a concurrent alias move or use either lands before (and wins) or sees
    the version `deleting`. One audit row `{kind}.deletion_scheduled` per version moved.
    """
    locked = _lock(version_ids, from_states)
    guarded = protection.protected_ids()
    rules = stores.current_rules()
    moved: list[AssetVersion] = []
    refused: list[Refused] = []
    for version in locked:
        problem = _refusal(version, guarded, unused_since) or stores.deletion_refusal(
            version, rules
        )
        if problem:
            refused.append(Refused(version.pk, problem))
        else:
            moved.append(version)
    _apply_deleting(actor, moved, reason, details or {})
    return Scheduled([v.pk for v in moved], refused)


def _lock(version_ids: Sequence[int], from_states: Sequence[str]) -> list[AssetVersion]:
    return list(
        AssetVersion.objects.select_for_update()
        .filter(id__in=version_ids, lifecycle_state__in=from_states)
        .order_by("id")
    )


def _refusal(
    version: AssetVersion, guarded: set[int], planned_clock: Mapping[int, datetime] | None
) -> str:
    if version.pk in guarded:
        return "protected"
    if planned_clock is not None:
        clock = unused_since(version.last_accessed_at, version.kept_at, version.protected_at, None)
        if clock > planned_clock[version.pk]:
            return "used, kept or protected since the plan"
    return ""


def _apply_deleting(
    actor: Any, versions: list[AssetVersion], reason: str, details: Mapping[int, dict[str, Any]]
) -> None:
    if not versions:
        return
    at = timezone.now()
    ids = [version.pk for version in versions]
    AssetVersion.objects.filter(id__in=ids).update(
        lifecycle_state=LifecycleState.DELETING, lifecycle_changed_at=at, deletion_error=""
    )
    by_kind: dict[str, list[AuditRow]] = defaultdict(list)
    for version in versions:
        row = AuditRow(version.team_id, version.asset_id, version.pk, details.get(version.pk, {}))
        by_kind[version.kind].append(row)
    for kind, rows in by_kind.items():
        record_many(actor, f"{kind}.deletion_scheduled", rows, reason=reason)
    transaction.on_commit(lambda: queue_deletions(ids))


def queue_deletions(version_ids: Sequence[int]) -> None:
    """Hand versions already `deleting` to the deletion workers (by task name: the registry's
    services never import its worker code)."""
    for version_id in version_ids:
        enqueue(DELETE_TASK, version_id)
