"""Where a dispatched run executes. The scheduler only calls `submit(run_id)`.

The default sends it to a Celery worker on the `runs` queue, which runs it in a
subprocess (jobs/process.py). Another executor — a Kubernetes Job per run, say — only has
to start the run somewhere that executes `python -m modelyard.jobs.child RUN_ID` under
jobs.process's supervision, or heartbeats itself: a run that stops heartbeating has its
slot reclaimed whoever executes it. Chosen with MODELYARD_RUN_EXECUTOR (a class path).
"""

from __future__ import annotations

import abc

from django.conf import settings
from django.utils.module_loading import import_string

from modelyard.jobs.queue import EXECUTE_RUN, enqueue


class Executor(abc.ABC):
    @abc.abstractmethod
    def submit(self, run_id: int) -> None:
        """Start the dispatched run. May be called twice for one run (a retried task): the
        execution side claims the run, so only one execution happens."""


class CeleryExecutor(Executor):
    def submit(self, run_id: int) -> None:
        enqueue(EXECUTE_RUN, run_id)


def get_executor() -> Executor:
    executor_class = import_string(settings.RUN_EXECUTOR)
    executor = executor_class()
    if not isinstance(executor, Executor):
        raise TypeError(f"MODELYARD_RUN_EXECUTOR={settings.RUN_EXECUTOR} is not an Executor.")
    return executor
