"""A deletion the broker lost is found again from the database and finished."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine

from modelyard.registry import services
from modelyard.registry.models import AssetVersion, LifecycleState
from modelyard.registry.tasks import sweep_pending_deletions

pytestmark = pytest.mark.django_db


def test_sweep_requeues_deletions_stuck_in_deleting(alice, artifact_root: Path) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x" * 10}, {})
    version = AssetVersion.objects.get()
    # Scheduled, but the task never ran: no on-commit callbacks, as if the broker lost it.
    services.schedule_deletion("test", version, "lost message")
    assert sweep_pending_deletions() == 0  # too recent to call lost
    with time_machine.travel(timedelta(minutes=20)):
        assert sweep_pending_deletions() == 1
    version.refresh_from_db()
    assert version.lifecycle_state == LifecycleState.DELETED
    assert [p for p in artifact_root.rglob("*") if p.is_file()] == []
