"""The lifecycle under /api/v1/lifecycle: policies, scans, keep/pin/hold, the report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from pydantic import Field

from modelyard.accounts.permissions import require_member, require_staff
from modelyard.accounts.services import get_team
from modelyard.api.types import Days, PositiveInt32, StoredDatetime
from modelyard.lib.errors import InvalidInput
from modelyard.lifecycle import services
from modelyard.lifecycle.models import Policy
from modelyard.lifecycle.scan import scan
from modelyard.registry import services as registry
from modelyard.registry.models import AssetVersion, Kind

router = Router(tags=["lifecycle"])


class PolicyIn(Schema):
    kind: Kind | None = None
    team: str | None = None
    environment: str = ""
    first_notice_days: Days = Field(30, ge=1)
    final_notice_days: Days = Field(50, ge=1)
    delete_after_days: Days = Field(60, ge=1)
    grace_days: Days = 10
    keep_newest: PositiveInt32 = 0


class PolicyOut(PolicyIn):
    scope: str


class ScanIn(Schema):
    dry_run: bool = True
    at: StoredDatetime | None = None
    allow_future: bool = False


class PlannedOut(Schema):
    ref: str
    action: str
    idle_days: int
    delete_on: datetime | None


class ScanOut(Schema):
    at: datetime
    dry_run: bool
    planned: list[PlannedOut]
    applied: dict[str, int]


class PinIn(Schema):
    until: StoredDatetime | None = Field(None, description="Empty to unpin")
    reason: str = ""


class HoldIn(Schema):
    on: bool = True
    reason: str


class VersionStateOut(Schema):
    ref: str
    lifecycle_state: str
    kept_at: datetime | None
    pinned_until: datetime | None
    legal_hold: bool


class ReclaimedOut(Schema):
    team: str
    store: str
    bytes: int


def _staff(request: HttpRequest, doing: str) -> None:
    require_staff(request.user, doing)


def _policy_body(policy: Policy) -> dict[str, Any]:
    return {
        "scope": policy.scope,
        "kind": policy.kind or None,
        "team": policy.team.name if policy.team else None,
        "environment": policy.environment,
        "first_notice_days": policy.first_notice_days,
        "final_notice_days": policy.final_notice_days,
        "delete_after_days": policy.delete_after_days,
        "grace_days": policy.grace_days,
        "keep_newest": policy.keep_newest,
    }


@router.get("/policies", response=list[PolicyOut], operation_id="list_policies")
def list_policies(request: HttpRequest) -> list[dict[str, Any]]:
    return [_policy_body(p) for p in Policy.objects.select_related("team")]


@router.put("/policies", response=PolicyOut, operation_id="set_policy")
def set_policy(request: HttpRequest, body: PolicyIn) -> dict[str, Any]:
    """Only staff: a policy decides when other people's bytes are deleted."""
    _staff(request, "change lifecycle policies")
    team = get_team(body.team) if body.team else None
    policy = services.set_policy(
        request.user,
        kind=body.kind or "",
        team=team,
        environment=body.environment,
        first=body.first_notice_days,
        final=body.final_notice_days,
        delete=body.delete_after_days,
        grace=body.grace_days,
        keep_newest=body.keep_newest,
    )
    return _policy_body(policy)


@router.post("/scan", response=ScanOut, operation_id="scan")
def run_scan(request: HttpRequest, body: ScanIn) -> dict[str, Any]:
    _staff(request, "run lifecycle scans")
    at = body.at or timezone.now()
    if at > timezone.now() and not body.dry_run and not body.allow_future:
        raise InvalidInput(
            "A real scan at a future time needs allow_future=true; use dry_run=true to forecast."
        )
    result = scan(at, dry_run=body.dry_run)
    refs = {
        v.pk: v.ref
        for v in AssetVersion.objects.select_related("asset__team").filter(
            pk__in=[p.version_id for p in result.planned]
        )
    }
    return {
        "at": result.at,
        "dry_run": result.dry_run,
        "applied": dict(result.applied),
        "planned": [
            {
                "ref": refs[p.version_id],
                "action": str(p.action),
                "idle_days": p.idle_days,
                "delete_on": p.delete_on,
            }
            for p in result.planned
        ],
    }


def _version(request: HttpRequest, kind: Kind, team: str, name: str, number: int) -> AssetVersion:
    version = registry.get_version(registry.get_asset(kind, team, name), number)
    require_member(request.user, version.asset.team, f"change the lifecycle of {version.ref}")
    return version


def _state(version: AssetVersion) -> dict[str, Any]:
    return {
        "ref": version.ref,
        "lifecycle_state": version.lifecycle_state,
        "kept_at": version.kept_at,
        "pinned_until": version.pinned_until,
        "legal_hold": version.legal_hold,
    }


VERSION = "/{kind}/{team}/{name}/versions/{number}"


@router.post(f"{VERSION}/keep", response=VersionStateOut, operation_id="keep_version")
def keep(request: HttpRequest, kind: Kind, team: str, name: str, number: int) -> dict[str, Any]:
    """Restart the version's unused clock (as a Keep link does)."""
    return _state(services.keep(request.user, _version(request, kind, team, name, number)))


@router.post(f"{VERSION}/pin", response=VersionStateOut, operation_id="pin_version")
def pin(
    request: HttpRequest, kind: Kind, team: str, name: str, number: int, body: PinIn
) -> dict[str, Any]:
    version = _version(request, kind, team, name, number)
    return _state(services.pin(request.user, version, body.until, body.reason))


@router.post(f"{VERSION}/hold", response=VersionStateOut, operation_id="hold_version")
def hold(
    request: HttpRequest, kind: Kind, team: str, name: str, number: int, body: HoldIn
) -> dict[str, Any]:
    """Legal holds are placed and released by platform staff."""
    _staff(request, "place or release legal holds")
    version = registry.get_version(registry.get_asset(kind, team, name), number)
    return _state(services.hold(request.user, version, body.on, body.reason))


@router.get("/report", response=list[ReclaimedOut], operation_id="lifecycle_report")
def report(request: HttpRequest) -> list[dict[str, Any]]:
    """Bytes reclaimed per team and store."""
    return services.reclaimed()
