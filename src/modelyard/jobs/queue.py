"""Enqueueing the jobs system's Celery tasks, by name.

Services, events and the executor ask for work here and never import the task module:
tasks sit on top of the services they call, so importing them from below would close an
import cycle. A task is sent as a signature of its name: where the task is registered
(every process, since the jobs app's `ready` imports the tasks) Celery sends it through
the task itself, so its route (settings.CELERY_TASK_ROUTES) and `task_always_eager` (the
tests) apply; elsewhere it is published by name with the same route.
"""

from __future__ import annotations

from typing import Any

from modelyard.celery import app

DISPATCH_RUNS = "modelyard.jobs.tasks.dispatch_runs"
EXECUTE_RUN = "modelyard.jobs.tasks.execute_run"
HANDLE_EVENT = "modelyard.jobs.tasks.handle_event"


def enqueue(task: str, *args: Any) -> None:
    """Send the named task with these arguments (ids and JSON only)."""
    app.signature(task, args=args).apply_async()
