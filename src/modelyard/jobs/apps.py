from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "modelyard.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Imported once the apps are loaded (models, then the modules built on them): the
        # registry's signals reach the event handlers, and the tasks are registered with
        # Celery in every process, so jobs/queue.py sends them through the tasks themselves.
        from modelyard.jobs import events, tasks  # noqa: F401

        events.connect_registry_signals()
