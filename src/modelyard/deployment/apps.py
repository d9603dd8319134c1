from __future__ import annotations

from django.apps import AppConfig


class DeploymentConfig(AppConfig):
    name = "modelyard.deployment"
    label = "deployment"
    verbose_name = "Deployment"
