from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _queue_conversion(sender: Any, **kwargs: Any) -> None:
    # Imported here, not at start-up: every process (and every job run) sets Django up,
    # and the conversion code pulls in onnxruntime and skl2onnx.
    from modelyard.deployment.tasks import queue_conversion

    queue_conversion(sender, **kwargs)


class DeploymentConfig(AppConfig):
    name = "modelyard.deployment"
    label = "deployment"
    verbose_name = "Deployment"

    def ready(self) -> None:
        from modelyard.registry.signals import version_registered

        version_registered.connect(_queue_conversion, dispatch_uid="deployment.onnx")
