"""The Celery application shared by workers, beat and the web process (which only enqueues)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")

app = Celery("modelyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    ["modelyard.registry", "modelyard.lifecycle", "modelyard.deployment", "modelyard.jobs"]
)
