"""Reading the audit trail under /api/v1/audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from modelyard.api.pagination import PageParams, page
from modelyard.audit.models import AuditEvent

router = Router(tags=["audit"])


class AuditFilters(Schema):
    team: str | None = None
    action: str | None = None
    actor: str | None = None
    asset_id: int | None = None


class AuditOut(Schema):
    id: int
    created_at: datetime
    actor: str
    action: str
    team: str | None
    asset: str | None
    version: int | None
    reason: str
    details: dict[str, Any]


class AuditPage(Schema):
    items: list[AuditOut]
    count: int
    limit: int
    offset: int


def event_body(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "created_at": event.created_at,
        "actor": event.actor_label,
        "action": event.action,
        "team": event.team.name if event.team else None,
        "asset": event.asset.ref if event.asset else None,
        "version": event.version.version if event.version else None,
        "reason": event.reason,
        "details": event.details,
    }


@router.get("", response=AuditPage, operation_id="list_audit_events")
def list_events(
    request: HttpRequest, filters: Query[AuditFilters], params: Query[PageParams]
) -> dict[str, Any]:
    queryset = AuditEvent.objects.select_related("team", "asset__team", "version")
    if filters.team:
        queryset = queryset.filter(team__name=filters.team)
    if filters.action:
        queryset = queryset.filter(action=filters.action)
    if filters.actor:
        queryset = queryset.filter(actor_label=filters.actor)
    if filters.asset_id:
        queryset = queryset.filter(asset_id=filters.asset_id)
    return page(queryset, params, event_body)
