"""Celery tasks of the jobs system. They take ids and name their queue (settings routes)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from modelyard.jobs import events, process, services


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
def handle_event(event: str, payload: dict[str, Any]) -> int:
    """Queue (or coalesce) a run of every command listening for this event."""
    return events.handle(event, payload)


@shared_task
def fire_schedule(command_id: int) -> int:
    """Beat's cron entry of a command: request a run (folded into a queued one if any)."""
    from modelyard.jobs.models import Command

    command = Command.objects.select_related("project").filter(pk=command_id, active=True).first()
    if command is None:
        return 0
    services.absorb(command, "cron", {"event": "schedule", "schedule": command.schedule})
    return 1
