"""Enqueueing the jobs system's Celery tasks, by name.

Services, events and the executor ask for work here and never import the task module:
tasks sit on top of the services they call, so importing them from below would close an
import cycle. `lib.tasks.enqueue` sends a task by its name through the task itself, so its
route (settings.CELERY_TASK_ROUTES) and `task_always_eager` (the tests) apply.
"""

from __future__ import annotations

from modelyard.lib.tasks import enqueue

__all__ = ["DISPATCH_RUNS", "EXECUTE_RUN", "HANDLE_EVENT", "enqueue"]

DISPATCH_RUNS = "modelyard.jobs.tasks.dispatch_runs"
EXECUTE_RUN = "modelyard.jobs.tasks.execute_run"
HANDLE_EVENT = "modelyard.jobs.tasks.handle_event"
