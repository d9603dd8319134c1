"""/api/v1/stores: staff declare where teams may register by reference and modelyard may
delete (the rule itself is registry/stores.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from modelyard.accounts.permissions import require_member, require_staff
from modelyard.accounts.services import get_team
from modelyard.registry import stores
from modelyard.registry.models import DeclaredStore

router = Router(tags=["stores"])


class StoreIn(Schema):
    uri: str = Field(max_length=1000, description="URI prefix, e.g. s3://lake/models/")
    teams: list[str] | None = Field(
        None, description="Teams that may use it; null or absent: every team"
    )
    allow_delete: bool = Field(False, description="modelyard may delete versions' bytes there")
    description: str = Field("", max_length=500)


class StoreOut(Schema):
    id: int | None = Field(description="null for the artifact root and MODELYARD_STORES")
    uri: str
    teams: list[str] | None = Field(
        description="null: every team (the artifact root: each team's folder)"
    )
    allow_delete: bool
    source: str = Field(description="artifact root, setting (MODELYARD_STORES) or declared")
    description: str
    created_at: datetime | None


def _rule_body(rule: stores.StoreRule) -> dict[str, Any]:
    return {
        "id": rule.store_id,
        "uri": rule.uri,
        "teams": sorted(rule.teams) if rule.teams is not None else None,
        "allow_delete": rule.deletable,
        "source": rule.source,
        "description": "",
        "created_at": None,
    }


def _store_body(store: DeclaredStore) -> dict[str, Any]:
    teams = None if store.all_teams else sorted(t.name for t in store.teams.all())
    return {
        "id": store.pk,
        "uri": store.uri,
        "teams": teams,
        "allow_delete": store.allow_delete,
        "source": "declared",
        "description": store.description,
        "created_at": store.created_at,
    }


class UsableIn(Schema):
    team: str = Field(max_length=100, description="The team on whose behalf it is read")
    uri: str = Field(max_length=1000, description="e.g. s3://lake/events/ or file:///data/x")


class UsableOut(Schema):
    team: str
    uri: str


@router.post("/usable", response=UsableOut, operation_id="check_store_usable")
def check_usable(request: HttpRequest, body: UsableIn) -> dict[str, Any]:
    """Whether the team may have modelyard read or write there (a member of the team):
    200 when it may, 403 naming the declared stores when not. `modelyard score` asks
    before it reads a Hive table's files."""
    team = get_team(body.team)
    require_member(request.user, team, f"check where team '{team.name}' may read")
    stores.check_tree(body.uri, team)
    return {"team": team.name, "uri": body.uri}


@router.get("", response=list[StoreOut], operation_id="list_stores")
def list_stores(request: HttpRequest) -> list[dict[str, Any]]:
    """Every store, the artifact root first (staff only)."""
    require_staff(request.user, "list the declared stores")
    declared = {s.pk: s for s in DeclaredStore.objects.prefetch_related("teams")}
    return [
        _store_body(declared[rule.store_id]) if rule.store_id in declared else _rule_body(rule)
        for rule in stores.current_rules()
    ]


@router.post("", response={201: StoreOut}, operation_id="declare_store")
def declare_store(request: HttpRequest, body: StoreIn) -> Status[dict[str, Any]]:
    require_staff(request.user, "declare stores")
    teams = [get_team(name) for name in body.teams] if body.teams is not None else None
    store = stores.declare_store(
        request.user,
        body.uri,
        teams=teams,
        allow_delete=body.allow_delete,
        description=body.description,
    )
    return Status(201, _store_body(store))


@router.delete("/{store_id}", response={204: None}, operation_id="remove_store")
def remove_store(request: HttpRequest, store_id: int) -> Status[None]:
    require_staff(request.user, "remove declared stores")
    stores.remove_store(request.user, store_id)
    return Status(204, None)
