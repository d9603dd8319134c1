"""Runs: requested (and coalesced), dispatched under the caps, finished, cancelled, re-run.

Rows first, side effects second: a run is a row before any process exists, and the
dispatcher — the only code that starts runs — counts and claims slots in rounds under the
dispatch lock (jobs/lock.py), so concurrent dispatchers on any number of machines can
never start more runs than the caps allow. A claimed run must heartbeat; if its worker
dies, the next dispatch reclaims the slot after MODELYARD_RUN_HEARTBEAT_TIMEOUT.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from modelyard.audit.services import record
from modelyard.jobs.executors import get_executor
from modelyard.jobs.lock import DispatchLock
from modelyard.jobs.models import FINISHED, Command, Run, RunState
from modelyard.jobs.queue import DISPATCH_RUNS, enqueue
from modelyard.lib.errors import Conflict, NotFound
from modelyard.registry.services import Actor, user_of
from modelyard.sdk import TRANSIENT_EXIT

log = logging.getLogger(__name__)
# A run keeps the first triggers it absorbed (for lineage and display) and counts the rest.
TRIGGERS_KEPT = 100
RETRY_BACKOFF = timedelta(seconds=30)


# --- requesting -----------------------------------------------------------------------------


def request_run(
    command: Command, reason: str, trigger: dict[str, Any] | None = None, actor: Actor = None
) -> tuple[Run, bool]:
    """Queue a run of the command, or fold the trigger into the one already queued.

    Returns the run and whether it is new. The database allows one queued run per command
    (a partial unique constraint), so two processes racing to create one end up sharing it.
    """
    run_id, created = _request(command, reason, trigger, actor)
    return created or Run.objects.get(pk=run_id), created is not None


def absorb(command: Command, reason: str, trigger: dict[str, Any]) -> None:
    """request_run for events and schedules, which do not need the run back."""
    _request(command, reason, trigger, None)


def _request(
    command: Command, reason: str, trigger: dict[str, Any] | None, actor: Actor
) -> tuple[int, Run | None]:
    """(the run's id, the run if this call created it)."""
    for _ in range(5):
        folded = _fold(command.pk, trigger)
        if folded is not None:
            return folded, None
        try:
            with transaction.atomic():
                run = _create(command, reason, trigger, actor)
            return run.pk, run
        except IntegrityError:
            continue  # another process queued a run between our fold and our insert
    raise Conflict(f"Could not queue a run of {command}; try again.")


# Folding is the hot path of a burst: one UPDATE ... RETURNING that counts the event and,
# while the run keeps fewer than TRIGGERS_KEPT triggers, appends it in the database: no
# row lock held across round trips, no read-modify-write of the trigger list.
_APPEND = {
    "postgresql": "triggers || jsonb_build_array(%s::jsonb)",
    "sqlite": "json_insert(triggers, '$[#]', json(%s))",
}


def _fold(command_id: int, trigger: dict[str, Any] | None) -> int | None:
    """Fold the trigger into the command's queued run; its id, or None if none is queued."""
    sets = ["events = events + 1"]
    params: list[Any] = []
    if trigger is not None:
        append = _APPEND[connection.vendor]
        sets.append(f"triggers = CASE WHEN events < %s THEN {append} ELSE triggers END")
        params += [TRIGGERS_KEPT, json.dumps(trigger)]
    sql = (
        f"UPDATE {Run._meta.db_table} SET {', '.join(sets)} "  # noqa: S608 - no user text
        "WHERE command_id = %s AND state = %s RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, command_id, RunState.QUEUED])
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _create(command: Command, reason: str, trigger: dict[str, Any] | None, actor: Actor) -> Run:
    run = Run.objects.create(
        command=command,
        team_id=command.project.team_id,
        reason=reason,
        triggers=[trigger] if trigger is not None else [],
        events=1,
        max_attempts=command.retries + 1,
        created_by=user_of(actor),
    )
    record(
        actor,
        "run.queued",
        team=command.project.team,
        details={"run": run.pk, "command": str(command), "reason": reason},
    )
    transaction.on_commit(dispatch_soon)
    return run


def dispatch_soon() -> None:
    enqueue(DISPATCH_RUNS)


# --- dispatching ----------------------------------------------------------------------------

DISPATCH_LOCK = DispatchLock()


def dispatch(now: datetime | None = None) -> list[int]:
    """Start queued runs while the caps allow; return the ids started.

    Rounds run under the dispatch lock (jobs/lock.py): a dispatcher that finds it taken
    leaves its request to the holder; one still asked for after many rounds goes on in a
    new task rather than in this one."""
    served = DISPATCH_LOCK.serve(lambda: _round(now))
    if served.handed_over:
        dispatch_soon()
    return served.results


def _round(now: datetime | None) -> list[int]:
    _reclaim_lost(now or timezone.now())
    running = list(Run.objects.filter(state=RunState.RUNNING).values_list("team_id", "command_id"))
    # Read after the lock and after counting: every run counted as finished then finished
    # before this time, so a run's started_at never precedes the finish that freed its slot.
    now = now or timezone.now()
    free = settings.MAX_CONCURRENT_RUNS - len(running)
    if free <= 0:
        return []
    per_team = Counter(team for team, _ in running)
    per_command = Counter(command for _, command in running)
    started: list[int] = []
    for run in _candidates(now, free):
        if len(started) >= free:
            break
        if per_team[run.team_id] >= settings.MAX_RUNS_PER_TEAM:
            continue
        if per_command[run.command_id] >= run.command.concurrency:
            continue
        per_team[run.team_id] += 1
        per_command[run.command_id] += 1
        started.append(run.pk)
    Run.objects.filter(pk__in=started, state=RunState.QUEUED).update(
        state=RunState.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempt=F("attempt") + 1,
        worker="",
        not_before=None,
    )
    transaction.on_commit(lambda: _submit(started))
    return started


def _candidates(now: datetime, free: int) -> list[Run]:
    due = Q(not_before__isnull=True) | Q(not_before__lte=now)
    queued = Run.objects.filter(due, state=RunState.QUEUED).select_related("command")
    # More than `free`: some may be held back by their team's or command's cap.
    return list(queued.order_by("created_at", "id")[: free * 4 + 50])


def _submit(run_ids: list[int]) -> None:
    executor = get_executor()
    for run_id in run_ids:
        executor.submit(run_id)


def _reclaim_lost(now: datetime) -> None:
    """Runs whose worker stopped heartbeating: their slot goes back, retried if allowed."""
    stale = now - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT)
    lost = Run.objects.filter(state=RunState.RUNNING, heartbeat_at__lt=stale)
    for run in lost.select_related("command__project__team"):
        log.warning("Run %s lost its worker (no heartbeat since %s)", run.pk, run.heartbeat_at)
        _end(run, RunState.FAILED, now, error=_lost_reason(run), retry=True)


def _lost_reason(run: Run) -> str:
    if run.worker:
        return "Its worker stopped answering (crashed or killed); the slot was reclaimed."
    return (
        f"No worker took it from the `runs` queue within {settings.RUN_HEARTBEAT_TIMEOUT:.0f} s"
        " of its dispatch, so its slot was reclaimed. Run `modelyard worker` with the `runs`"
        " queue, with --run-slots adding up to at least MODELYARD_MAX_CONCURRENT_RUNS."
    )


# --- executing and finishing ------------------------------------------------------------------


def claim_execution(run_id: int, worker: str) -> Run | None:
    """The executor's claim: only one process ever executes a dispatched run."""
    claimed = Run.objects.filter(pk=run_id, state=RunState.RUNNING, worker="").update(
        worker=worker, heartbeat_at=timezone.now()
    )
    return Run.objects.select_related("command__project__team").get(pk=run_id) if claimed else None


def heartbeat(run_id: int, logs: str | None = None) -> bool:
    """Record that the run is alive; return True when a cancel was asked for."""
    changes: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if logs is not None:
        changes["logs"] = logs
    Run.objects.filter(pk=run_id, state=RunState.RUNNING).update(**changes)
    return Run.objects.filter(pk=run_id, cancel_requested=True).exists()


@transaction.atomic
def finish(
    run_id: int, state: str, *, exit_code: int | None = None, error: str = "", logs: str = ""
) -> Run:
    run = (
        Run.objects.select_for_update(of=("self",))
        .select_related("command__project__team")
        .get(pk=run_id)
    )
    if run.state != RunState.RUNNING:
        return run  # reclaimed or finished meanwhile: the first word stands
    run.exit_code, run.logs = exit_code, logs or run.logs
    retry = state == RunState.FAILED and exit_code == TRANSIENT_EXIT
    _end(run, state, timezone.now(), error=error, retry=retry)
    return run


def _end(run: Run, state: str, now: datetime, *, error: str, retry: bool) -> None:
    run.error = error[-4000:]
    if retry and run.attempt < run.max_attempts:
        _requeue(run, now)
    else:
        run.state, run.finished_at = state, now
        run.save()
    details = {"run": run.pk, "attempt": run.attempt, "error": run.error[:500]}
    record("system:jobs", f"run.{run.state}", team=run.command.project.team, details=details)
    transaction.on_commit(dispatch_soon)


def _requeue(run: Run, now: datetime) -> None:
    backoff = RETRY_BACKOFF * (2 ** max(0, run.attempt - 1))
    run.state, run.not_before, run.worker = RunState.QUEUED, now + backoff, ""
    try:
        with transaction.atomic():  # the one-queued-run constraint decides, race-free
            run.save()
    except IntegrityError:
        # A newer request is queued already: it will run the command; this one ends here.
        run.state, run.finished_at, run.not_before = RunState.FAILED, now, None
        run.error += " (a queued run of the same command takes over)"
        run.save()


# --- operator actions -----------------------------------------------------------------------


@transaction.atomic
def cancel(actor: Actor, run: Run) -> Run:
    locked = Run.objects.select_for_update().get(pk=run.pk)
    if locked.state in FINISHED:
        raise Conflict(f"Run {run.pk} already ended ({locked.state}).")
    if locked.state == RunState.QUEUED:
        locked.state, locked.finished_at = RunState.CANCELLED, timezone.now()
        locked.error = "Cancelled before it started."
    locked.cancel_requested = True  # a running run's executor kills it at its next heartbeat
    locked.save()
    team = locked.command.project.team
    record(actor, "run.cancel_requested", team=team, details={"run": run.pk})
    return locked


def rerun(actor: Actor, run: Run) -> Run:
    if not run.command.active:
        raise Conflict(f"{run.command} was removed from its project; apply it again first.")
    again, _ = request_run(run.command, "rerun", {"event": "rerun", "run": run.pk}, actor)
    return again


def get_run(run_id: int) -> Run:
    run = Run.objects.select_related("command__project__team").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"No run {run_id}; list them with `modelyard runs list`.")
    return run
