from __future__ import annotations

from django.apps import AppConfig


class FeaturesConfig(AppConfig):
    name = "modelyard.features"
    label = "features"
    verbose_name = "Feature store"
    default_auto_field = "django.db.models.BigAutoField"
