from __future__ import annotations

from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "modelyard.lifecycle"
    label = "lifecycle"
    verbose_name = "Lifecycle"

    def ready(self) -> None:
        # The registry asks and announces through signals; it never imports the lifecycle.
        from modelyard.lifecycle import alerts, outlook
        from modelyard.registry.signals import deletion_failed, outlook_wanted

        outlook_wanted.connect(outlook.answer, dispatch_uid="lifecycle.outlook")
        deletion_failed.connect(alerts.on_deletion_failed, dispatch_uid="lifecycle.alerts")
