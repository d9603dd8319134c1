"""Promotions and rollbacks of model versions between environment aliases.

`promote` runs the gate outside any transaction (it loads models and scores data, which
can take seconds), then moves the alias in one short transaction that re-checks the holder
it judged against: a promotion that raced another one is refused, never applied on stale
evidence. Every attempt, refused ones included, is a `Promotion` row with its report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from modelyard.audit.services import record
from modelyard.deployment.gate import GateReport, run_gate
from modelyard.deployment.models import GateSettings, Promotion
from modelyard.lib.errors import Conflict, InvalidInput, NotFound
from modelyard.registry import services as registry
from modelyard.registry.models import Alias, Asset, AssetVersion, Kind
from modelyard.registry.services import Actor

Outcome = Promotion.Outcome


class GateRefused(Conflict):
    """The candidate failed the gate; `details["report"]` says how."""


def holder(asset: Asset, alias: str) -> AssetVersion | None:
    current = Alias.objects.filter(asset=asset, name=alias).select_related("version").first()
    return current.version if current else None


def gate_settings(asset: Asset) -> GateSettings | None:
    return GateSettings.objects.filter(asset=asset).select_related("evaluation_data").first()


def promote(
    actor: Actor,
    asset: Asset,
    version: AssetVersion,
    alias: str,
    *,
    force: bool = False,
    reason: str = "",
) -> Promotion:
    _check_candidate(asset, version, alias, force, reason)
    judged = holder(asset, alias)
    if judged is not None and judged.pk == version.pk:
        raise Conflict(f"{version.ref} already holds {asset.ref}@{alias}.")
    report = run_gate(version, alias, judged, gate_settings(asset))
    attempt = _Attempt(actor, asset, alias, judged, version, reason)
    if not report.passed and not force:
        _refuse(attempt, report)
        raise GateRefused(
            f"{version.ref} did not pass the gate for {alias}: {report.summary()}. Fix it, or "
            "override with --force and a --reason (owners only).",
            report=report.as_json(),
        )
    outcome = Outcome.PROMOTED if report.passed else Outcome.FORCED
    return _move(attempt, outcome, report.as_json())


def rollback(actor: Actor, asset: Asset, alias: str, reason: str = "") -> Promotion:
    """Return the alias to the version that held it before the current holder's promotion."""
    current = holder(asset, alias)
    if current is None:
        raise NotFound(f"{asset.ref} has no alias '{alias}' to roll back.")
    previous = _previous_holder(asset, alias, current)
    if previous is None:
        raise Conflict(
            f"{current.ref} was not promoted to {alias} by a recorded promotion, so there is "
            f"no earlier holder to return to; promote the version you want instead."
        )
    if previous.is_gone:
        raise Conflict(f"The previous holder {previous.ref} was deleted; promote another one.")
    report = {"rolled_back_from": current.ref, "rolled_back_to": previous.ref}
    attempt = _Attempt(actor, asset, alias, current, previous, reason)
    return _move(attempt, Outcome.ROLLED_BACK, report)


def _previous_holder(asset: Asset, alias: str, current: AssetVersion) -> AssetVersion | None:
    # The promotion that put the current holder in place (rollbacks do not count, so rolling
    # back twice walks two promotions back rather than flipping between two versions).
    last = (
        Promotion.objects.filter(
            asset=asset,
            alias=alias,
            to_version=current,
            outcome__in=[Outcome.PROMOTED, Outcome.FORCED],
        )
        .select_related("from_version")
        .first()
    )
    return last.from_version if last else None


def _check_candidate(
    asset: Asset, version: AssetVersion, alias: str, force: bool, reason: str
) -> None:
    if asset.kind != Kind.MODEL:
        raise InvalidInput(f"{asset.ref} is a {asset.kind}; only models are promoted.")
    if version.asset_id != asset.pk:
        raise InvalidInput(f"Version {version.ref} does not belong to {asset.ref}.")
    if version.is_gone:
        raise Conflict(f"{version.ref} was deleted; it cannot be promoted.")
    if force and not reason.strip():
        raise InvalidInput("Forcing past the gate needs a --reason; it goes in the audit trail.")
    registry.check_alias_name(alias)


@dataclass(frozen=True)
class _Attempt:
    """Moving `asset@alias` from `judged` (what the gate compared with) to `version`."""

    actor: Actor
    asset: Asset
    alias: str
    judged: AssetVersion | None
    version: AssetVersion
    reason: str

    def store(self, outcome: str, report: dict[str, Any]) -> Promotion:
        return Promotion.objects.create(
            asset=self.asset,
            alias=self.alias,
            from_version=self.judged,
            to_version=self.version,
            outcome=outcome,
            report=report,
            reason=self.reason,
            actor=registry.user_of(self.actor),
        )

    def audit(self, action: str, **details: Any) -> None:
        details = {"alias": self.alias, **details}
        record(self.actor, action, version=self.version, reason=self.reason, details=details)


@transaction.atomic
def _move(attempt: _Attempt, outcome: str, report: dict[str, Any]) -> Promotion:
    asset, alias, judged = attempt.asset, attempt.alias, attempt.judged
    locked = Alias.objects.select_for_update().filter(asset=asset, name=alias).first()
    now_holding = locked.version_id if locked else None
    if now_holding != (judged.pk if judged else None):
        raise Conflict(f"{asset.ref}@{alias} moved while the gate ran; run the promotion again.")
    reason = attempt.reason or outcome
    registry.set_alias(attempt.actor, asset, alias, attempt.version, reason=reason)
    promotion = attempt.store(outcome, report)
    attempt.audit(f"model.{outcome}", report=report, **{"from": _number(judged)})
    return promotion


@transaction.atomic
def _refuse(attempt: _Attempt, report: GateReport) -> Promotion:
    promotion = attempt.store(Outcome.REFUSED, report.as_json())
    attempt.audit("model.promotion_refused", summary=report.summary())
    return promotion


def _number(version: AssetVersion | None) -> int | None:
    return version.version if version else None


@transaction.atomic
def configure_gate(actor: Actor, asset: Asset, **changes: Any) -> GateSettings:
    """Update the model's gate settings; only the given (non-None) ones change."""
    if asset.kind != Kind.MODEL:
        raise InvalidInput(f"{asset.ref} is a {asset.kind}; gate settings belong to models.")
    settings, _ = GateSettings.objects.select_for_update().get_or_create(asset=asset)
    changed = {k: v for k, v in changes.items() if v is not None and getattr(settings, k) != v}
    _check_gate_values(changed)
    for name, value in changed.items():
        setattr(settings, name, value)
    settings.save()
    shown = {k: (v.ref if isinstance(v, AssetVersion) else v) for k, v in changed.items()}
    record(actor, "model.gate_configured", asset=asset, details=shown)
    return settings


def _check_gate_values(changed: dict[str, Any]) -> None:
    from modelyard.deployment.evaluation import METRICS

    if changed.get("metric") and changed["metric"] not in METRICS:
        raise InvalidInput(
            f"Unknown metric {changed['metric']!r}; use one of {', '.join(METRICS)}."
        )
    data = changed.get("evaluation_data")
    if data is not None and data.kind != Kind.DATASET:
        raise InvalidInput(f"Evaluation data must be a data set version; {data.ref} is not.")
    if changed.get("tolerance", 0) < 0:
        raise InvalidInput("The tolerance cannot be negative.")
