"""Set-based writes of the scan into the lifecycle's own ledger: one statement per batch.

A scan of a million-version catalog notices ~100,000 versions. Through the ORM that is
that many model instances per recipient, a large share of the scan's time (benchmarks/
README.md, "What the lifecycle figures say"). On PostgreSQL the notices go in as one
statement fed by a few arrays through `unnest`; other databases (the embedded SQLite, a
laptop's catalog) take the ORM path, which is plenty at their size. Both write the same
rows. State changes and audit rows are written by their owners (`registry.states`,
`audit.services.record_many`), set-based too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from django.db import connection
from django.utils import timezone

from modelyard.lifecycle.models import Notice
from modelyard.lifecycle.recipients import Recipient


class Item(Protocol):
    """What the writers need of a planned step (scan.Planned satisfies it)."""

    @property
    def version_id(self) -> int: ...
    @property
    def team_id(self) -> int: ...
    @property
    def cycle(self) -> datetime: ...
    @property
    def delete_on(self) -> datetime | None: ...


def _postgres() -> bool:
    return connection.vendor == "postgresql"


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
