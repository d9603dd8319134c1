"""Promotion, rollback and gate settings under /api/v1/models/{team}/{name}/….

Team members promote through a passing gate and roll back; forcing past a failing gate and
changing the gate are for owners. The gate endpoint also shows and sets the model's serving
settings (micro-batching), which belong to serving: they are handed to its service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from modelyard.accounts.permissions import require_member, require_owner
from modelyard.api.types import VersionNumber
from modelyard.deployment import services
from modelyard.deployment.models import GateSettings, Promotion
from modelyard.lib.errors import InvalidInput
from modelyard.registry import services as registry
from modelyard.registry.models import Asset, AssetVersion, Kind
from modelyard.registry.refs import parse_ref
from modelyard.serving import services as serving
from modelyard.serving.models import ServingSettings

router = Router(tags=["deployment"])


class PromoteIn(Schema):
    version: VersionNumber
    to: str = Field("production", description="The environment alias to move")
    force: bool = Field(False, description="Owners only, with a reason: skip a failing gate")
    reason: str = ""


class RollbackIn(Schema):
    to: str = Field("production", description="The environment alias to roll back")
    reason: str = ""


class PromotionOut(Schema):
    id: int
    model: str
    alias: str
    from_version: int | None
    to_version: int
    outcome: str
    report: dict[str, Any]
    reason: str
    actor: str | None
    created_at: datetime


class GateIn(Schema):
    metric: str | None = None
    tolerance: float | None = Field(None, ge=0)
    evaluate_on: str | None = Field(None, description="Data set version: TEAM/NAME:VERSION")
    label_column: str | None = Field(None, min_length=1)
    max_batch_size: int | None = Field(None, ge=1, le=4096)
    max_wait_ms: float | None = Field(None, ge=0, le=1000)


class GateOut(Schema):
    model: str
    metric: str
    tolerance: float
    evaluate_on: str | None
    label_column: str
    max_batch_size: int
    max_wait_ms: float


def _model(team: str, name: str) -> Asset:
    return registry.get_asset(Kind.MODEL, team, name)


@router.post("/{team}/{name}/promote", response=PromotionOut, operation_id="promote_model")
def promote(request: HttpRequest, team: str, name: str, body: PromoteIn) -> dict[str, Any]:
    asset = _model(team, name)
    if body.force:
        require_owner(request.user, asset.team, f"force {asset.ref} past the promotion gate")
    require_member(request.user, asset.team, f"promote versions of {asset.ref}")
    version = registry.get_version(asset, body.version)
    promotion = services.promote(
        request.user, asset, version, body.to, force=body.force, reason=body.reason
    )
    return promotion_body(promotion)


@router.post("/{team}/{name}/rollback", response=PromotionOut, operation_id="rollback_model")
def rollback(request: HttpRequest, team: str, name: str, body: RollbackIn) -> dict[str, Any]:
    asset = _model(team, name)
    require_member(request.user, asset.team, f"roll back {asset.ref}")
    return promotion_body(services.rollback(request.user, asset, body.to, reason=body.reason))


@router.get(
    "/{team}/{name}/promotions", response=list[PromotionOut], operation_id="list_promotions"
)
def promotions(request: HttpRequest, team: str, name: str, limit: int = 50) -> list[Any]:
    asset = _model(team, name)
    rows = Promotion.objects.filter(asset=asset).select_related(
        "asset__team", "from_version", "to_version", "actor"
    )
    return [promotion_body(p) for p in rows[: max(1, min(limit, 500))]]


@router.get("/{team}/{name}/gate", response=GateOut, operation_id="get_gate")
def get_gate(request: HttpRequest, team: str, name: str) -> dict[str, Any]:
    asset = _model(team, name)
    gate = services.gate_settings(asset) or GateSettings(asset=asset)
    return gate_body(asset, gate, serving.serving_settings(asset))


@router.put("/{team}/{name}/gate", response=GateOut, operation_id="set_gate")
def set_gate(request: HttpRequest, team: str, name: str, body: GateIn) -> dict[str, Any]:
    asset = _model(team, name)
    require_owner(request.user, asset.team, f"change the promotion gate of {asset.ref}")
    batching = body.dict(include=set(serving.FIELDS))
    changes = body.dict(exclude={"evaluate_on", *serving.FIELDS})
    changes["evaluation_data"] = _data_version(body.evaluate_on) if body.evaluate_on else None
    gate = services.configure_gate(request.user, asset, **changes)
    return gate_body(asset, gate, serving.configure_serving(request.user, asset, **batching))


def _data_version(text: str) -> AssetVersion:
    ref = parse_ref(text)
    if ref.version is None:
        raise InvalidInput(f"Name the data set version, e.g. {ref.team}/{ref.name}:3.")
    return registry.get_version(registry.get_asset(Kind.DATASET, ref.team, ref.name), ref.version)


def promotion_body(promotion: Promotion) -> dict[str, Any]:
    return {
        "id": promotion.pk,
        "model": promotion.asset.ref,
        "alias": promotion.alias,
        "from_version": promotion.from_version.version if promotion.from_version else None,
        "to_version": promotion.to_version.version,
        "outcome": promotion.outcome,
        "report": promotion.report,
        "reason": promotion.reason,
        "actor": promotion.actor.get_username() if promotion.actor else None,
        "created_at": promotion.created_at,
    }


def gate_body(asset: Asset, settings: GateSettings, batching: ServingSettings) -> dict[str, Any]:
    data = settings.evaluation_data
    return {
        "model": asset.ref,
        "metric": settings.metric,
        "tolerance": settings.tolerance,
        "evaluate_on": data.ref if data else None,
        "label_column": settings.label_column,
        "max_batch_size": batching.max_batch_size,
        "max_wait_ms": batching.max_wait_ms,
    }
