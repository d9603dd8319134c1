from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _queue_conversion(sender: Any, **kwargs: Any) -> None:
    # Imported here, not at start-up: every process (and every job run) sets Django up,
    # and the conversion code pulls in onnxruntime and skl2onnx.
    from modelyard.deployment.tasks import queue_conversion

    queue_conversion(sender, **kwargs)


def _evaluation_data_ids() -> list[int]:
    from modelyard.deployment.models import GateSettings

    used = GateSettings.objects.filter(evaluation_data__isnull=False)
    return list(used.values_list("evaluation_data_id", flat=True))


def _evaluation_data_reasons(version_id: int) -> list[str]:
    from modelyard.deployment.models import GateSettings

    gates = GateSettings.objects.filter(evaluation_data_id=version_id).select_related("asset__team")
    return [f"evaluation data of {gate.asset.ref}'s promotion gate" for gate in gates]


class DeploymentConfig(AppConfig):
    name = "modelyard.deployment"
    label = "deployment"
    verbose_name = "Deployment"

    def ready(self) -> None:
        from modelyard.registry import protection
        from modelyard.registry.signals import version_registered

        version_registered.connect(_queue_conversion, dispatch_uid="deployment.onnx")
        # The gate reads this data set version at every promotion: it must outlive them.
        protection.register_dependency(
            protection.Dependency(
                "gate evaluation data", _evaluation_data_ids, _evaluation_data_reasons
            )
        )
