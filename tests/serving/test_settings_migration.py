"""Micro-batching settings moved from the gate's row to serving's own, values carried over."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from modelyard.serving.models import ServingSettings

BEFORE = [("deployment", "0001_initial"), ("serving", "0001_initial")]
AFTER = [("deployment", "0002_batching_moved_to_serving"), ("serving", "0002_batching_from_gate")]


@pytest.mark.django_db(transaction=True)
def test_existing_batching_settings_are_carried_over_to_serving(model):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    old_apps.get_model("deployment", "GateSettings").objects.create(
        asset_id=model.pk, metric="roc_auc", max_batch_size=7, max_wait_ms=2.5
    )

    try:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(AFTER)
        carried = ServingSettings.objects.get(asset=model)
        assert (carried.max_batch_size, carried.max_wait_ms) == (7, 2.5)
    finally:
        call_command("migrate", verbosity=0)
