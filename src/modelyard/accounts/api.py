"""Teams, memberships and the signed-in user under /api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from modelyard.accounts import services
from modelyard.accounts.models import Membership, Role, Team
from modelyard.accounts.permissions import require_owner, require_team_creator

router = Router(tags=["teams"])


class TeamIn(Schema):
    name: str = Field(max_length=63)
    display_name: str = ""
    contact_email: str = ""


class MemberOut(Schema):
    username: str
    email: str
    role: str
    active: bool


class TeamOut(Schema):
    name: str
    display_name: str
    contact_email: str
    created_at: datetime
    members: list[MemberOut]


class MemberIn(Schema):
    role: Role = Role.MEMBER


class MeOut(Schema):
    username: str
    email: str
    is_staff: bool
    teams: dict[str, str]


def team_body(team: Team) -> dict[str, Any]:
    memberships = (
        Membership.objects.filter(team=team).select_related("user").order_by("user__username")
    )
    return {
        "name": team.name,
        "display_name": team.display_name,
        "contact_email": team.contact_email,
        "created_at": team.created_at,
        "members": [
            {
                "username": m.user.username,
                "email": m.user.email,
                "role": m.role,
                "active": m.user.is_active,
            }
            for m in memberships
        ],
    }


@router.get("/me", response=MeOut, operation_id="me", tags=["me"])
def me(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    memberships = Membership.objects.filter(user__username=user.get_username())
    teams = dict(memberships.values_list("team__name", "role"))
    return {
        "username": user.get_username(),
        "email": getattr(user, "email", ""),
        "is_staff": getattr(user, "is_staff", False),
        "teams": teams,
    }


@router.get("/teams", response=list[TeamOut], operation_id="list_teams")
def list_teams(request: HttpRequest) -> list[dict[str, Any]]:
    return [team_body(team) for team in Team.objects.order_by("name")]


@router.post("/teams", response={201: TeamOut}, operation_id="create_team")
def create_team(request: HttpRequest, body: TeamIn) -> Status[dict[str, Any]]:
    """Staff create teams (any signed-in user with MODELYARD_TEAM_CREATION=anyone); the
    creator becomes the first owner."""
    require_team_creator(request.user)
    team = services.create_team(
        request.user,
        body.name,
        display_name=body.display_name,
        contact_email=body.contact_email,
        owner=request.user,  # type: ignore[arg-type]
    )
    return Status(201, team_body(team))


@router.get("/teams/{name}", response=TeamOut, operation_id="get_team")
def get_team(request: HttpRequest, name: str) -> dict[str, Any]:
    return team_body(services.get_team(name))


@router.put("/teams/{name}/members/{username}", response=TeamOut, operation_id="set_member")
def set_member(request: HttpRequest, name: str, username: str, body: MemberIn) -> dict[str, Any]:
    team = services.get_team(name)
    require_owner(request.user, team, "add members or change roles")
    services.set_membership(request.user, team, services.get_user(username), body.role)
    return team_body(team)


@router.delete(
    "/teams/{name}/members/{username}", response={204: None}, operation_id="remove_member"
)
def remove_member(request: HttpRequest, name: str, username: str) -> Status[None]:
    team = services.get_team(name)
    require_owner(request.user, team, "remove members")
    services.remove_membership(request.user, team, services.get_user(username))
    return Status(204, None)
