from __future__ import annotations

from django.apps import AppConfig


class DeploymentConfig(AppConfig):
    name = "modelyard.deployment"
    label = "deployment"
    verbose_name = "Deployment"

    def ready(self) -> None:
        from modelyard.deployment.tasks import queue_conversion
        from modelyard.registry.signals import version_registered

        version_registered.connect(queue_conversion, dispatch_uid="deployment.onnx")
