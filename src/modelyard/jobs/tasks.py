"""Celery tasks of the jobs system: the top layer. They take ids, name their queue
(settings routes) and call the services; the services enqueue them by name (jobs/queue.py)
and never import this module."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from modelyard.jobs import events, firing, process, services


@shared_task
def dispatch_runs() -> int:
    """Start what the caps allow (queued after every request and every finish; beat also
    runs it every 10 s, which starts retries whose backoff passed and reclaims lost slots)."""
    return len(services.dispatch())


@shared_task(acks_late=True, reject_on_worker_lost=False)
def execute_run(run_id: int) -> str:
    # Not re-delivered when the worker dies: the run's slot is reclaimed by the heartbeat
    # timeout instead, which also counts the attempt.
    return process.execute(run_id)


@shared_task
def handle_event(event: str, payload: dict[str, Any], team: str) -> int:
    """Queue (or coalesce) a run of every command listening for this team's event."""
    return events.handle(event, payload, team)


@shared_task
def fire_schedules() -> int:
    """Beat's tick for cron commands: request a run of each whose scheduled time came."""
    return firing.fire_due()
