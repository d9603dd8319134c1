from __future__ import annotations

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "modelyard.registry"
    label = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        # Bind shared tasks to modelyard's Celery app (broker settings) in every process.
        import modelyard.celery  # noqa: F401
        from modelyard.registry.stores import check_setting

        check_setting()
