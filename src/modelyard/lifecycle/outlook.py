"""The lifecycle's answer to the registry's question: when does each version go, and why.

One place words the reason a version is listed on the team page and the version page:
protected (legal hold, pin), unused since when, or why its deletion has not finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from modelyard.lifecycle.dates import Timeline, delete_on
from modelyard.lifecycle.policies import PolicyBook
from modelyard.registry import protection
from modelyard.registry.models import AssetVersion, LifecycleState
from modelyard.registry.signals import Outlook

SCHEDULED = (LifecycleState.NOTICED, LifecycleState.FINAL_NOTICE)


def outlooks(
    versions: Sequence[AssetVersion], at: datetime | None = None, *, with_why: bool = True
) -> dict[int, Outlook]:
    at = at or timezone.now()
    # Only noticed versions have a deletion date: a page with none needs no policies.
    noticed = [v for v in versions if v.lifecycle_state in SCHEDULED]
    book = PolicyBook() if noticed else None
    # Asked once for the page: only the (few) protected versions then say why, one by one.
    live = [v.pk for v in versions if not v.is_gone]
    protected = protection.protected_among(live, at) if with_why else set()
    return {
        version.pk: Outlook(
            delete_on(version, book.for_version(version.team_id, version.kind), at)
            if book is not None and version.lifecycle_state in SCHEDULED
            else None,
            why(version, at, version.pk in protected) if with_why else "",
        )
        for version in versions
    }


def why(version: AssetVersion, at: datetime, protected: bool = True) -> str:
    """Why the version is where it is in its lifecycle, in a few words."""
    state = version.lifecycle_state
    if state == LifecycleState.DELETED:
        return "deleted after going unused" if version.notice_sent_at else "deleted on request"
    if state == LifecycleState.DELETING:
        return _deleting(version)
    protections = _protections(version, at) if protected else []
    if protections:
        return "protected: " + ", ".join(protections)
    clock = Timeline.of(version).clock
    if state in (LifecycleState.NOTICED, LifecycleState.FINAL_NOTICE):
        kept = version.kept_at is not None and version.kept_at >= version.last_accessed_at
        since = "kept" if kept else "used"
        return f"unused {(at - clock).days} days (last {since} {clock:%Y-%m-%d})"
    return ""


def _protections(version: AssetVersion, at: datetime) -> list[str]:
    return protection.reasons(version, at)


def _deleting(version: AssetVersion) -> str:
    """The error itself is shown beside this, in full."""
    if not version.deletion_error:
        return "deletion under way"
    attempts = version.deletion_attempts
    return f"deletion failed {attempts} time{'s' if attempts != 1 else ''}; retried"


def answer(
    sender: Any, versions: Sequence[AssetVersion], why: bool = True, **kwargs: Any
) -> dict[int, Outlook]:
    """Receiver of registry.signals.outlook_wanted."""
    return outlooks(versions, with_why=why)
