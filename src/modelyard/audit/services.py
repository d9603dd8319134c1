"""Writing audit events. Callers run this inside the transaction of the change it records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.audit.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from modelyard.accounts.models import Team
    from modelyard.registry.models import Asset, AssetVersion


def actor_label(actor: User | AnonymousUser | str | None) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
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
