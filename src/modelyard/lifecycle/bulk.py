"""Set-based writes for the scan: a fixed number of statements per batch of versions.

A scan of a million-version catalog claims, notices and audits ~100,000 versions. Through
the ORM that is 300,000 model instances and millions of per-value conversions, half the
scan's time (benchmarks/README.md, "What the lifecycle figures say"). On PostgreSQL each
write here is one statement fed by a few arrays through `unnest`; other databases (the
embedded SQLite, a laptop's catalog) take the ORM path, which is plenty at their size.
Both paths write the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from django.db import connection
from django.utils import timezone

from modelyard.audit.models import AuditEvent
from modelyard.lifecycle.models import Notice
from modelyard.lifecycle.recipients import Recipient
from modelyard.registry.models import AssetVersion


class Item(Protocol):
    """What the writers need of a planned step (scan.Planned satisfies it)."""

    @property
    def version_id(self) -> int: ...
    @property
    def team_id(self) -> int: ...
    @property
    def asset_id(self) -> int: ...
    @property
    def cycle(self) -> datetime: ...
    @property
    def delete_on(self) -> datetime | None: ...


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def claim(
    ids: Sequence[int], sources: Sequence[str], target: str, at: datetime, *, clear_sent: bool
) -> set[int]:
    """Move the versions still in one of `sources` to `target`; return the ids moved.

    Rows another transaction holds are skipped (SKIP LOCKED), and a row another scan has
    already moved no longer matches `sources`, so concurrent scans never move one twice.
    """
    if not ids:
        return set()
    if _postgres():
        return _claim_postgres(ids, sources, target, at, clear_sent)
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


def _claim_postgres(
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


def insert_notices(
    items: Sequence[Item], step: str, at: datetime, recipients: Callable[[int], list[Recipient]]
) -> None:
    """One ledger row per item × recipient of its team; rows already there are left alone."""
    if not items:
        return
    if _postgres():
        _insert_notices_postgres(items, step, at, recipients)
        return
    Notice.objects.bulk_create(
        [
            Notice(
                version_id=item.version_id,
                team_id=item.team_id,
                step=step,
                cycle=item.cycle,
                recipient=person.email,
                recipient_user_id=person.user_id,
                delete_on=item.delete_on or at,
            )
            for item in items
            for person in recipients(item.team_id)
        ],
        ignore_conflicts=True,
    )


def _insert_notices_postgres(
    items: Sequence[Item], step: str, at: datetime, recipients: Callable[[int], list[Recipient]]
) -> None:
    # Versions and recipients go in as two short sets of arrays joined on the team, rather
    # than one row per (version, recipient): half the parameters to quote and send.
    teams = sorted({item.team_id for item in items})
    people = [(team, person) for team in teams for person in recipients(team)]
    sql = (
        f"INSERT INTO {Notice._meta.db_table} (version_id, team_id, step, cycle, recipient, "  # noqa: S608
        "recipient_user_id, delete_on, created_at, claim, attempts, last_error) "
        "SELECT v.id, v.team, %s, v.cycle, r.email, r.user_id, v.delete_on, %s, '', 0, '' "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::timestamptz[]) "
        "AS v(id, team, cycle, delete_on) "
        "JOIN unnest(%s::bigint[], %s::text[], %s::bigint[]) AS r(team, email, user_id) "
        "ON r.team = v.team ON CONFLICT DO NOTHING"
    )
    params: list[Any] = [
        step,
        timezone.now(),
        [item.version_id for item in items],
        [item.team_id for item in items],
        [item.cycle for item in items],
        [item.delete_on or at for item in items],
        [team for team, _ in people],
        [person.email for _, person in people],
        [person.user_id for _, person in people],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def insert_audit(
    items: Sequence[Item], actor_label: str, action: str, details: Callable[[Any], Any]
) -> None:
    """One audit row per item, written by the platform (no user)."""
    if not items:
        return
    if _postgres():
        _insert_audit_postgres(items, actor_label, action, (details(item) for item in items))
        return
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor_label=actor_label,
            action=action,
            team_id=item.team_id,
            asset_id=item.asset_id,
            version_id=item.version_id,
            details=details(item),
        )
        for item in items
    )


def _insert_audit_postgres(
    items: Sequence[Item], actor_label: str, action: str, details: Iterable[Any]
) -> None:
    sql = (
        f"INSERT INTO {AuditEvent._meta.db_table} (created_at, actor_label, action, "  # noqa: S608
        "team_id, asset_id, version_id, reason, details) "
        "SELECT %s, %s, %s, a.team, a.asset, a.version, '', a.details::jsonb "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) "
        "AS a(team, asset, version, details)"
    )
    params: list[Any] = [
        timezone.now(),
        actor_label,
        action,
        [item.team_id for item in items],
        [item.asset_id for item in items],
        [item.version_id for item in items],
        [json.dumps(detail) for detail in details],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
