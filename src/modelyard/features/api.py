"""The feature store under /api/v1/features: members of a team push its raw events; anyone
signed in reads online features, like the catalog."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from modelyard.accounts.permissions import require_member
from modelyard.features import services
from modelyard.lib.errors import InvalidInput

router = Router(tags=["features"])
MAX_ENTITIES = 1000


class IngestOut(Schema):
    accepted: int = Field(description="Events added (new ones)")
    duplicates: int = Field(description="Events skipped: their event_id was already ingested")


class OnlineIn(Schema):
    entities: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_ENTITIES, description='Key values, e.g. {"user_id": 42}'
    )


class EntityFeatures(Schema):
    entity: dict[str, Any]
    features: dict[str, Any]


class OnlineOut(Schema):
    view: str
    version: int | None = Field(description="The feature set version answering")
    freshness_seconds: float | None = Field(description="Age of the newest event applied")
    results: list[EntityFeatures]


class ViewOut(Schema):
    view: str
    version: int | None = Field(description="The feature set version of its definition")
    source: str
    features: list[str]
    newest_event_at: datetime | None = Field(description="Time of the newest event applied")
    freshness_seconds: float | None = Field(description="Age of the newest event applied")


@router.get("/{team}/{view}", response=ViewOut, operation_id="get_feature_view")
def get_view(request: HttpRequest, team: str, view: str) -> dict[str, Any]:
    """A view of the catalog: its version, features and freshness (anyone signed in)."""
    return services.view_summary(services.get_view(team, view))


@router.post(
    "/{team}/sources/{name}/events",
    response=IngestOut,
    operation_id="push_feature_events",
    description="A JSON list of event objects, or NDJSON (one object a line) sent with "
    "`Content-Type: application/x-ndjson`. All or nothing: a bad or too-late row refuses the "
    "batch (422, naming the row and field); events whose `event_id` was seen are skipped.",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
            "required": True,
        }
    },
)
def push_events(request: HttpRequest, team: str, name: str) -> dict[str, Any]:
    source = services.get_source(team, name)
    require_member(request.user, source.team, f"push events to feature source {team}/{name}")
    ingested = services.ingest(request.user, source, _rows(request))
    return {"accepted": ingested.accepted, "duplicates": ingested.duplicates}


def _rows(request: HttpRequest) -> Any:
    """A JSON list, or NDJSON (one object a line) when the content type says so."""
    text = request.body.decode("utf-8", errors="replace")
    content_type = request.content_type or ""
    if "ndjson" not in content_type and "jsonlines" not in content_type:
        return _json(text, "")
    lines = text.splitlines()
    return [_json(line, f"line {n}: ") for n, line in enumerate(lines, 1) if line.strip()]


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"The body is not valid JSON ({where}{error}).") from None


@router.get("/{team}/{view}/online", response=OnlineOut, operation_id="get_online_features")
def get_online(request: HttpRequest, team: str, view: str) -> dict[str, Any]:
    found = services.get_view(team, view)
    keys = services.entity_keys(found, dict(request.GET.items()), from_text=True)
    return services.online_features(found, [keys])


@router.post("/{team}/{view}/online", response=OnlineOut, operation_id="post_online_features")
def post_online(request: HttpRequest, team: str, view: str, body: OnlineIn) -> dict[str, Any]:
    found = services.get_view(team, view)
    keys = [services.entity_keys(found, given, from_text=False) for given in body.entities]
    return services.online_features(found, keys)
