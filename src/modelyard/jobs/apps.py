from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "modelyard.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from modelyard.jobs import events

        events.connect_registry_signals()
