"""Reading the audit trail under /api/v1/audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema

from modelyard.accounts.models import Membership, Role
from modelyard.accounts.permissions import is_staff
from modelyard.api.pagination import PageParams, page
from modelyard.api.types import Id
from modelyard.audit.models import ACCESS_DENIED, AuditEvent

router = Router(tags=["audit"])


class AuditFilters(Schema):
    team: str | None = None
    action: str | None = None
    actor: str | None = None
    asset_id: Id | None = None


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
    """The trail of changes, which every signed-in user reads, and the refusals
    (`access.denied`): staff see all of them, owners their teams', members none."""
    queryset = visible_to(request.user, AuditEvent.objects.all())
    queryset = queryset.select_related("team", "asset__team", "version")
    if filters.team:
        queryset = queryset.filter(team__name=filters.team)
    if filters.action:
        queryset = queryset.filter(action=filters.action)
    if filters.actor:
        queryset = queryset.filter(actor_label=filters.actor)
    if filters.asset_id:
        queryset = queryset.filter(asset_id=filters.asset_id)
    return page(queryset, params, event_body)


def visible_to(user: User | AnonymousUser, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """A refusal says who probed what; only staff and the owners of the team probed see it."""
    if is_staff(user):
        return events
    if not isinstance(user, User):
        return events.exclude(action=ACCESS_DENIED)
    owned = Membership.objects.filter(user_id=user.pk, role=Role.OWNER).values("team_id")
    return events.filter(~Q(action=ACCESS_DENIED) | Q(team_id__in=owned))
