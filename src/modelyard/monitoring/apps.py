from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "modelyard.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # `modelyard apply` (jobs, below monitoring) writes the `monitors:` section.
        from modelyard.jobs.sections import register
        from modelyard.monitoring.manifest import SECTION

        register(SECTION)
