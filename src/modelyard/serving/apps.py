from __future__ import annotations

from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "modelyard.serving"
    label = "serving"
    verbose_name = "Serving"
