"""Queue a Celery task by its name, so a service never imports the worker code above it.

Tasks live in each app's `tasks.py`, which imports that app's services; a service that
imported its tasks back would close an import cycle. By name, the task module is imported
only when work is queued (Celery registers a task when its module is imported, and eager
mode in tests runs it in place), and routing still comes from CELERY_TASK_ROUTES.
"""

from __future__ import annotations

import importlib
from typing import Any

from celery import current_app


def enqueue(name: str, *args: Any) -> None:
    """Queue `name` ("modelyard.app.tasks.function") with positional `args`."""
    module, _, _ = name.rpartition(".")
    importlib.import_module(module)  # registers it, where no app's ready() has
    # Through the task itself where it is registered (its route, and eager mode in tests
    # apply); published by name with the configured route otherwise.
    current_app.signature(name, args=args).apply_async()
