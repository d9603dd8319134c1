"""The scan: find versions whose unused time crossed a threshold and move each one step.

Two streams, each read in id-ordered batches so memory stays flat however big the catalog:
active versions unused for at least the shortest first-notice threshold (candidates for a
first notice), and versions already noticed (candidates for the final notice, deletion, or
a reset because they were used, kept or protected meanwhile). Each step is claimed with a
conditional update, so two scans at once move every version once and write every notice
once; deletion re-checks the clock it read, so an access that lands meanwhile wins.

Protection (aliases, pins, holds, declared dependencies and the lineage upstream of all of
them) is the registry's rule (`registry/protection.py`): the scan computes the protected set
once, restarts those versions' unused clock, and leaves every state change to the registry
(`registry/states.py`). Scans and sends hold one lease (`lease.py`), so overlapping scans
never split a recipient's list into two emails.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from modelyard.audit.services import AuditRow, record_many
from modelyard.lifecycle import bulk, lease
from modelyard.lifecycle.dates import Timeline, delete_on
from modelyard.lifecycle.models import Step
from modelyard.lifecycle.policies import PolicyBook, Thresholds
from modelyard.lifecycle.recipients import RecipientBook
from modelyard.registry import access, protection, states
from modelyard.registry.models import AssetVersion, LifecycleState, unused_since

BATCH = 2000
ACTOR = "system:lifecycle"
State = LifecycleState


class Action(enum.StrEnum):
    FIRST_NOTICE = "first_notice"
    FINAL_NOTICE = "final_notice"
    DELETE = "delete"
    RESET = "reset"


FIELDS = (
    "id",
    "asset__team_id",
    "asset_id",
    "kind",
    "version",
    "asset__latest_version",
    "last_accessed_at",
    "kept_at",
    "protected_at",
    "pinned_until",
    "lifecycle_state",
    "notice_sent_at",
    "final_notice_sent_at",
)


@dataclass(frozen=True)
class Candidate:
    row: dict[str, Any]
    protected: bool = False

    @property
    def clock(self) -> datetime:
        """When the version's unused time started: last use, keep, or end of protection."""
        row = self.row
        return unused_since(
            row["last_accessed_at"], row["kept_at"], row["protected_at"], row["pinned_until"]
        )


@dataclass(frozen=True)
class Planned:
    version_id: int
    team_id: int
    asset_id: int
    action: Action
    cycle: datetime
    idle_days: int
    delete_on: datetime | None = None


@dataclass
class ScanResult:
    at: datetime
    dry_run: bool
    planned: list[Planned] = field(default_factory=list)
    applied: Counter[str] = field(default_factory=Counter)

    def count(self, action: Action) -> int:
        return sum(1 for item in self.planned if item.action == action)


def decide(candidate: Candidate, limits: Thresholds, at: datetime) -> Planned | None:
    """The one step a version is due for at `at`, or None."""
    row, clock = candidate.row, candidate.clock
    idle = at - clock
    newest = (
        limits.keep_newest and row["version"] > row["asset__latest_version"] - limits.keep_newest
    )
    state = row["lifecycle_state"]
    if candidate.protected or newest or idle < limits.first:
        return _plan(candidate, Action.RESET, at) if state != State.ACTIVE else None
    if state == State.ACTIVE:
        # Dated as the pages will date it once the notice is out (lifecycle/dates.py).
        due = delete_on(Timeline.after_notice(row, State.NOTICED), limits, at)
        return _plan(candidate, Action.FIRST_NOTICE, at, due)
    if state == State.NOTICED:
        sent = row["notice_sent_at"]
        if sent and idle >= limits.final and at >= sent + (limits.final - limits.first):
            due = delete_on(Timeline.after_notice(row, State.FINAL_NOTICE), limits, at)
            return _plan(candidate, Action.FINAL_NOTICE, at, due)
        return None
    sent = row["final_notice_sent_at"]
    if state == State.FINAL_NOTICE and sent and idle >= limits.delete and at >= sent + limits.grace:
        return _plan(candidate, Action.DELETE, at)
    return None


def _plan(
    candidate: Candidate, action: Action, at: datetime, delete_on: datetime | None = None
) -> Planned:
    row = candidate.row
    idle_days = (at - candidate.clock).days
    return Planned(
        row["id"],
        row["asset__team_id"],
        row["asset_id"],
        action,
        candidate.clock,
        idle_days,
        delete_on,
    )


# --- reading ---------------------------------------------------------------------------------


def _batches(queryset: QuerySet[AssetVersion]) -> Iterator[list[dict[str, Any]]]:
    last_id = 0
    while rows := _batch(queryset, last_id):
        yield rows
        last_id = rows[-1]["id"]


@transaction.atomic
def _batch(queryset: QuerySet[AssetVersion], after_id: int) -> list[dict[str, Any]]:
    if connection.vendor == "postgresql":
        # The planner's cost estimate for a batch passes jit_above_cost, and compiling the
        # query takes ~40 ms of a ~50 ms read: about 4 s over a million-version scan.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
    page = queryset.filter(id__gt=after_id).order_by("id").values(*FIELDS)
    return list(page[:BATCH])


def _stale_active(at: datetime, book: PolicyBook) -> QuerySet[AssetVersion]:
    cutoff = at - book.earliest_first_notice()
    idle = Q(last_accessed_at__lt=cutoff)
    for moment in ("kept_at", "protected_at", "pinned_until"):
        idle &= Q(**{f"{moment}__isnull": True}) | Q(**{f"{moment}__lt": cutoff})
    return AssetVersion.objects.filter(idle, lifecycle_state=State.ACTIVE, legal_hold=False)


def _in_progress() -> QuerySet[AssetVersion]:
    return AssetVersion.objects.filter(lifecycle_state__in=[State.NOTICED, State.FINAL_NOTICE])


def plan(
    at: datetime, book: PolicyBook, protected: set[int] | None = None
) -> Iterator[list[Planned]]:
    """Yield the due steps batch by batch (nothing is changed).

    Versions already in progress are read first: read after the stale active ones, the
    stream would read back every version this scan has just noticed, only to leave it be.
    A version reset to active by the first stream is not stale, so the second skips it.
    """
    guarded = protection.protected_ids(at) if protected is None else protected
    for queryset in (_in_progress(), _stale_active(at, book)):
        for rows in _batches(queryset):
            due = (decide(Candidate(r, r["id"] in guarded), _limits(book, r), at) for r in rows)
            yield [item for item in due if item is not None]


def _limits(book: PolicyBook, row: dict[str, Any]) -> Thresholds:
    return book.for_version(row["asset__team_id"], row["kind"])


# --- applying --------------------------------------------------------------------------------


def scan(at: datetime | None = None, *, dry_run: bool = False) -> ScanResult:
    """Plan every due step at `at` and, unless `dry_run`, apply it (notices are sent apart).

    Applying holds the lifecycle lease, so a second scan started meanwhile waits for this
    one to commit and then finds the work done: a recipient's notices are never split
    between two scans' emails.
    """
    at = at or timezone.now()
    if dry_run:
        return _scan(at, dry_run=True)
    with lease.hold(lease.LIFECYCLE):
        # A use acknowledged before this scan must be in the rows it reads and claims.
        access.flush_everywhere()
        return _scan(at, dry_run=False)


def _scan(at: datetime, *, dry_run: bool) -> ScanResult:
    book, people = PolicyBook(), RecipientBook()
    result = ScanResult(at=at, dry_run=dry_run)
    guarded = protection.protected_ids(at)
    if not dry_run:
        protection.touch_protected(guarded, at)
    for batch in plan(at, book, guarded):
        result.planned.extend(batch)
        if not dry_run and batch:
            result.applied.update(_apply(batch, at, people))
            lease.renew(lease.LIFECYCLE)
    return result


@transaction.atomic
def _apply(batch: list[Planned], at: datetime, people: RecipientBook) -> Counter[str]:
    by_action: dict[Action, list[Planned]] = {action: [] for action in Action}
    for item in batch:
        by_action[item.action].append(item)
    applied: Counter[str] = Counter()
    applied[Action.FIRST_NOTICE] = _notice(
        by_action[Action.FIRST_NOTICE], Step.FIRST_NOTICE, at, people
    )
    applied[Action.FINAL_NOTICE] = _notice(
        by_action[Action.FINAL_NOTICE], Step.FINAL_NOTICE, at, people
    )
    applied[Action.RESET] = _reset(by_action[Action.RESET], at)
    applied[Action.DELETE] = _schedule_deletions(by_action[Action.DELETE])
    return applied


_NEXT = {
    Step.FIRST_NOTICE: (State.ACTIVE, State.NOTICED),
    Step.FINAL_NOTICE: (State.NOTICED, State.FINAL_NOTICE),
}


def _claim(
    items: list[Planned], sources: Sequence[str], target: str, at: datetime, *, clear_sent: bool
) -> list[Planned]:
    """The items whose versions this call moved from one of `sources` to `target`."""
    moved = states.move(
        [item.version_id for item in items], sources, target, at, clear_sent=clear_sent
    )
    return [item for item in items if item.version_id in moved]


def _notice(items: list[Planned], step: Step, at: datetime, people: RecipientBook) -> int:
    source, target = _NEXT[step]
    mine = _claim(items, [source], target, at, clear_sent=False)
    bulk.insert_notices(mine, step, at, people.for_team)
    _audit(
        mine,
        f"lifecycle.{step}",
        lambda item: {"idle_days": item.idle_days, "delete_on": _iso(item.delete_on)},
    )
    return len(mine)


def _reset(items: list[Planned], at: datetime) -> int:
    in_progress = [State.NOTICED, State.FINAL_NOTICE]
    mine = _claim(items, in_progress, State.ACTIVE, at, clear_sent=True)
    _audit(mine, "lifecycle.reset", lambda item: {"reason": "used, kept or protected"})
    return len(mine)


def _schedule_deletions(items: list[Planned]) -> int:
    """Hand due versions to the registry, which re-checks protection and the clock."""
    if not items:
        return 0
    result = states.schedule_deletions(
        ACTOR,
        [item.version_id for item in items],
        "unused past the lifecycle policy",
        unused_since={item.version_id: item.cycle for item in items},
        from_states=[State.FINAL_NOTICE],
        details={item.version_id: {"idle_days": item.idle_days} for item in items},
    )
    return len(result.moved)


def _audit(items: list[Planned], action: str, details: Callable[[Planned], Any]) -> None:
    rows = [AuditRow(i.team_id, i.asset_id, i.version_id, details(i)) for i in items]
    record_many(ACTOR, action, rows)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
