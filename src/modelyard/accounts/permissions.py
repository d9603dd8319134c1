"""Team-scoped permission: everyone signed in reads, members write, owners move and delete,
staff do everything.

Every refusal goes through `refuse`, which writes the `access.denied` audit row, so each
403 the API, the pages and the links give is on the trail without a copy of that code.
Check permission before a service opens its transaction: a refusal raised inside one would
roll its own audit row back.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from modelyard.accounts.models import Membership, Role, Team
from modelyard.audit.services import record_denied
from modelyard.lib.errors import Forbidden

AnyUser = User | AnonymousUser


def role_in(user: AnyUser, team: Team) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return Role.OWNER
    membership = Membership.objects.filter(user_id=user.pk, team=team).only("role").first()
    return membership.role if membership else None


def teams_of(user: AnyUser, team_ids: set[int]) -> set[int]:
    """Which of these teams `role_in` gives the user a role in, in one query (for a page
    listing many teams' rows)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if getattr(user, "is_superuser", False):
        return set(team_ids)
    memberships = Membership.objects.filter(user_id=user.pk, team_id__in=team_ids)
    return set(memberships.values_list("team_id", flat=True))


def is_staff(user: AnyUser) -> bool:
    staff = getattr(user, "is_staff", False) or getattr(user, "is_superuser", False)
    return bool(user.is_authenticated and user.is_active and staff)


def require_member(user: AnyUser, team: Team, doing: str) -> None:
    if role_in(user, team) is None:
        raise refuse(
            user,
            doing,
            team,
            f"You are not a member of team '{team.name}', so you cannot {doing}. "
            f"Ask an owner of '{team.name}' to add you.",
        )


def require_owner(user: AnyUser, team: Team, doing: str) -> None:
    if role_in(user, team) != Role.OWNER:
        raise refuse(
            user,
            doing,
            team,
            f"Only owners of team '{team.name}' can {doing}. "
            f"Ask an owner of '{team.name}' to do it or to make you an owner.",
        )


def require_staff(user: AnyUser, doing: str) -> None:
    if not is_staff(user):
        raise refuse(user, doing, None, f"Only platform staff can {doing}.")


def refuse(
    user: AnyUser | str, doing: str, team: Team | None, message: str, target: str = ""
) -> Forbidden:
    """The Forbidden to raise, after recording the refusal (see audit.services.record_denied).

    `target` defaults to the request being served.
    """
    record_denied(user, doing, target, team, reason=message)
    error = Forbidden(message)
    error.audited = True
    return error


def require_team_creator(user: AnyUser) -> None:
    """MODELYARD_TEAM_CREATION: `staff` (the default) or `anyone` signed in."""
    if settings.TEAM_CREATION == "anyone" and user.is_authenticated:
        return
    if not is_staff(user):
        raise refuse(
            user,
            "create teams",
            None,
            "Only staff can create teams here (MODELYARD_TEAM_CREATION=staff). Ask a staff "
            "member to create the team and make you its owner.",
        )
