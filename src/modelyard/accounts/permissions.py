"""Team-scoped permission: everyone signed in reads, members write, owners move and delete."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from modelyard.accounts.models import Membership, Role, Team
from modelyard.lib.errors import Forbidden

AnyUser = User | AnonymousUser


def role_in(user: AnyUser, team: Team) -> str | None:
    if not user.is_authenticated:
        return None
    if getattr(user, "is_superuser", False):
        return Role.OWNER
    membership = Membership.objects.filter(user_id=user.pk, team=team).only("role").first()
    return membership.role if membership else None


def require_member(user: AnyUser, team: Team, doing: str) -> None:
    if role_in(user, team) is None:
        raise Forbidden(
            f"You are not a member of team '{team.name}', so you cannot {doing}. "
            f"Ask an owner of '{team.name}' to add you."
        )


def require_owner(user: AnyUser, team: Team, doing: str) -> None:
    if role_in(user, team) != Role.OWNER:
        raise Forbidden(
            f"Only owners of team '{team.name}' can {doing}. "
            f"Ask an owner of '{team.name}' to do it or to make you an owner."
        )


def is_staff(user: AnyUser) -> bool:
    return bool(user.is_authenticated and (user.is_staff or getattr(user, "is_superuser", False)))


def require_staff(user: AnyUser, doing: str) -> None:
    if not is_staff(user):
        raise Forbidden(f"Only staff can {doing}. Ask a modelyard administrator.")


def require_team_creator(user: AnyUser) -> None:
    """MODELYARD_TEAM_CREATION: `staff` (the default) or `anyone` signed in."""
    if settings.TEAM_CREATION == "anyone" and user.is_authenticated:
        return
    if not is_staff(user):
        raise Forbidden(
            "Only staff can create teams here (MODELYARD_TEAM_CREATION=staff). Ask a staff "
            "member to create the team and make you its owner."
        )
