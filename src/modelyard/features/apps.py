from __future__ import annotations

from django.apps import AppConfig


class FeaturesConfig(AppConfig):
    name = "modelyard.features"
    label = "features"
    verbose_name = "Feature store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from modelyard.features.lookup import model_lineage
        from modelyard.registry.signals import lineage_wanted

        lineage_wanted.connect(model_lineage, dispatch_uid="features.model_lineage")
