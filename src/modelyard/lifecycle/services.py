"""Keeping, pinning, holding and policies. One transaction and one audit row each."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from modelyard.accounts.models import Team
from modelyard.audit.services import record
from modelyard.lib.errors import Gone, InvalidInput
from modelyard.lifecycle.models import Policy, policy_problems
from modelyard.registry import protection
from modelyard.registry.models import Artifact, AssetVersion, Kind, LifecycleState
from modelyard.registry.services import Actor

IN_PROGRESS = (LifecycleState.NOTICED, LifecycleState.FINAL_NOTICE)


def _locked(version: AssetVersion) -> AssetVersion:
    locked = (
        AssetVersion.objects.select_for_update().select_related("asset__team").get(pk=version.pk)
    )
    if locked.is_gone:
        raise Gone(f"{locked.ref} is {locked.lifecycle_state}; it can no longer be kept.")
    return locked


def _restart_cycle(version: AssetVersion, now: datetime) -> None:
    if version.lifecycle_state in IN_PROGRESS:
        version.lifecycle_state = LifecycleState.ACTIVE
        version.lifecycle_changed_at = now
    version.notice_sent_at = version.final_notice_sent_at = None


@transaction.atomic
def keep(actor: Actor, version: AssetVersion, reason: str = "") -> AssetVersion:
    """Snooze: the unused clock starts again now, as if the version had been used."""
    locked, now = _locked(version), timezone.now()
    locked.kept_at = now
    _restart_cycle(locked, now)
    locked.save(
        update_fields=[
            "kept_at",
            "lifecycle_state",
            "lifecycle_changed_at",
            "notice_sent_at",
            "final_notice_sent_at",
        ]
    )
    record(actor, "lifecycle.kept", version=locked, reason=reason)
    return locked


@transaction.atomic
def pin(
    actor: Actor, version: AssetVersion, until: datetime | None, reason: str = ""
) -> AssetVersion:
    """Protect until a date (None unpins). A pinned version is never noticed or deleted."""
    locked, now = _locked(version), timezone.now()
    if until is not None and until <= now:
        raise InvalidInput(f"Pin until {until:%Y-%m-%d %H:%M} lies in the past; pick a later date.")
    locked.pinned_until = until
    if until is not None:
        _restart_cycle(locked, now)
    else:
        protection.mark_protection_ended([locked.pk], now)
    locked.save(
        update_fields=[
            "pinned_until",
            "lifecycle_state",
            "lifecycle_changed_at",
            "notice_sent_at",
            "final_notice_sent_at",
        ]
    )
    record(
        actor,
        "lifecycle.pinned" if until else "lifecycle.unpinned",
        version=locked,
        reason=reason,
        details={"until": until.isoformat() if until else None},
    )
    return locked


@transaction.atomic
def hold(actor: Actor, version: AssetVersion, on: bool, reason: str) -> AssetVersion:
    """Legal hold: nothing deletes the version until the hold is released."""
    if not reason.strip():
        raise InvalidInput(
            "A legal hold needs a reason (case, ticket); it goes in the audit trail."
        )
    locked, now = _locked(version), timezone.now()
    locked.legal_hold = on
    if on:
        _restart_cycle(locked, now)
    else:
        protection.mark_protection_ended([locked.pk], now)
    locked.save(
        update_fields=[
            "legal_hold",
            "lifecycle_state",
            "lifecycle_changed_at",
            "notice_sent_at",
            "final_notice_sent_at",
        ]
    )
    record(
        actor,
        "lifecycle.hold_placed" if on else "lifecycle.hold_released",
        version=locked,
        reason=reason,
    )
    return locked


@transaction.atomic
def set_policy(
    actor: Actor,
    *,
    kind: str = "",
    team: Team | None = None,
    environment: str = "",
    first: int = 30,
    final: int = 50,
    delete: int = 60,
    grace: int = 10,
    keep_newest: int = 0,
) -> Policy:
    problems = policy_problems(first, final, delete, grace)
    if kind and kind not in Kind.values:
        problems.append(f"Unknown kind '{kind}'; use one of: {', '.join(Kind.values)}.")
    if problems:
        raise InvalidInput(" ".join(problems))
    scope = Policy.objects.select_for_update().filter(kind=kind, team=team, environment=environment)
    policy = scope.first() or Policy(kind=kind, team=team, environment=environment)
    policy.first_notice_days, policy.final_notice_days = first, final
    policy.delete_after_days, policy.grace_days, policy.keep_newest = delete, grace, keep_newest
    policy.save()
    record(
        actor,
        "lifecycle.policy_set",
        team=team,
        details={
            "scope": policy.scope,
            "first": first,
            "final": final,
            "delete": delete,
            "grace": grace,
            "keep_newest": keep_newest,
        },
    )
    return policy


def reclaimed() -> list[dict[str, Any]]:
    """Bytes reclaimed by deletions so far, per team and store (URI scheme)."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    deleted = Artifact.objects.filter(version__lifecycle_state=LifecycleState.DELETED)
    for team, uri, size in deleted.values_list("version__asset__team__name", "uri", "size_bytes"):
        totals[(team, uri.split("://", 1)[0])] += size
    return [{"team": t, "store": s, "bytes": b} for (t, s), b in sorted(totals.items())]
