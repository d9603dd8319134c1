"""Writing audit events. Callers run this inside the transaction of the change it records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from modelyard.audit.context import MAX_TARGET_LENGTH, current_request_line
from modelyard.audit.models import ACCESS_DENIED, AuditEvent, DenialTally

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from modelyard.accounts.models import Team
    from modelyard.registry.models import Asset, AssetVersion

LABEL_LENGTH = AuditEvent._meta.get_field("actor_label").max_length or 150


def actor_label(actor: User | AnonymousUser | str | None) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor[:LABEL_LENGTH]
    return actor.get_username() or "anonymous"


def record(
    actor: User | AnonymousUser | str | None,
    action: str,
    *,
    team: Team | None = None,
    asset: Asset | None = None,
    version: AssetVersion | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    if version is not None and asset is None:
        asset = version.asset
    if asset is not None and team is None:
        team = asset.team
    user = actor if actor is not None and not isinstance(actor, str) and actor.pk else None
    return AuditEvent.objects.create(
        actor=user,
        actor_label=actor_label(actor),
        action=action,
        team=team,
        asset=asset,
        version=version,
        reason=reason,
        details=details or {},
    )


@dataclass(frozen=True)
class AuditRow:
    """One event of a bulk change: which version of which asset and team, with details."""

    team_id: int | None
    asset_id: int | None
    version_id: int | None
    details: dict[str, Any] = field(default_factory=dict)


def record_many(
    actor: User | AnonymousUser | str | None,
    action: str,
    rows: Sequence[AuditRow],
    *,
    reason: str = "",
) -> None:
    """One audit row per item of a bulk change, in one statement on PostgreSQL.

    A lifecycle scan of a million versions audits ~100,000 of them; building that many
    model instances was half the scan's time (benchmarks/README.md), so PostgreSQL takes
    the rows as arrays through `unnest`. Other databases take the ORM path.
    """
    if not rows:
        return
    user = actor if actor is not None and not isinstance(actor, str) and actor.pk else None
    if connection.vendor == "postgresql":
        _record_many_postgres(user.pk if user else None, actor_label(actor), action, rows, reason)
        return
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=user,
            actor_label=actor_label(actor),
            action=action,
            team_id=row.team_id,
            asset_id=row.asset_id,
            version_id=row.version_id,
            reason=reason,
            details=row.details,
        )
        for row in rows
    )


def _record_many_postgres(
    user_id: int | None, label: str, action: str, rows: Sequence[AuditRow], reason: str
) -> None:
    sql = (
        f"INSERT INTO {AuditEvent._meta.db_table} (created_at, actor_id, actor_label, "  # noqa: S608
        "action, team_id, asset_id, version_id, reason, details) "
        "SELECT %s, %s, %s, %s, a.team, a.asset, a.version, %s, a.details::jsonb "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) "
        "AS a(team, asset, version, details)"
    )
    params: list[Any] = [
        timezone.now(),
        user_id,
        label,
        action,
        reason,
        [row.team_id for row in rows],
        [row.asset_id for row in rows],
        [row.version_id for row in rows],
        [json.dumps(row.details) for row in rows],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def record_denied(
    actor: User | AnonymousUser | str | None,
    action: str,
    target: str = "",
    team: Team | None = None,
    *,
    reason: str = "",
) -> AuditEvent | None:
    """Record a refused attempt as an `access.denied` row, at most
    MODELYARD_AUDIT_DENIALS_PER_MINUTE rows per actor and minute.

    `action` says what was attempted ("delete versions of red/churn"), `target` what it was
    aimed at (default: the request being served, `METHOD /path`). Past the limit nothing is
    written and the attempt is counted instead; the actor's first row of a later minute
    carries that count as `details.left_out`, so the trail stays exact without growing.
    Returns the row written, or None when the attempt was only counted.
    """
    label = actor_label(actor)
    minute = timezone.now().replace(second=0, microsecond=0)
    with transaction.atomic():
        left_out = _count_denial(label, minute)
        if left_out is None:
            return None
        details: dict[str, Any] = {
            "attempted": action,
            "target": (target or current_request_line())[:MAX_TARGET_LENGTH],
        }
        if left_out:
            details["left_out"] = left_out
        return record(actor, ACCESS_DENIED, team=team, reason=reason, details=details)


def _count_denial(label: str, minute: datetime) -> int | None:
    """Count one denial for `label`: None when over the minute's limit, else the number left
    out since this actor's last written row (to be carried in the row about to be written).

    One row per actor, locked for the update, keeps the count exact under concurrency.
    """
    tally = DenialTally.objects.select_for_update().filter(actor_label=label).first()
    if tally is None:
        DenialTally.objects.bulk_create(
            [DenialTally(actor_label=label, window_start=minute)], ignore_conflicts=True
        )
        tally = DenialTally.objects.select_for_update().get(actor_label=label)
    carried = 0
    if tally.window_start < minute:  # a later clock's minute counts as the same one
        carried, tally.suppressed = tally.suppressed, 0
        tally.window_start, tally.written = minute, 0
    if tally.written >= settings.AUDIT_DENIALS_PER_MINUTE:
        tally.suppressed += 1
        tally.save(update_fields=["suppressed"])
        return None
    tally.written += 1
    tally.save(update_fields=["window_start", "written", "suppressed"])
    return carried
