"""The Celery application shared by workers, beat and the web process (which only enqueues)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")

app = Celery("modelyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    [
        "modelyard.registry",
        "modelyard.lifecycle",
        "modelyard.deployment",
        "modelyard.jobs",
        "modelyard.monitoring",
    ]
)


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(sender: Any = None, **_: Any) -> None:
    """Keep a task's database connection as Django keeps a request's: closed only when it
    is older than CONN_MAX_AGE or unusable. Celery's own Django fixup would close it
    before and after every task (settings.CELERY_DB_REUSE_MAX turns that off), so every
    task paid for a new PostgreSQL backend: the largest cost of a burst of events. An
    eager task (tests, `task_always_eager`) runs inside its caller's transaction: left be."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections as close

    close()
