"""Issue 11 finding 5: a use the API acknowledged (202) always wins against a deletion that
starts after it, even when the scan runs in another process a second later."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.registry import access
from modelyard.registry.models import LifecycleState
from tests.fixtures.worker import database_url
from tests.lifecycle.conftest import state

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _scan_in_another_process(home: Path, artifact_root: Path, redis_url: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "modelyard.settings",
        "MODELYARD_HOME": str(home),
        "MODELYARD_DATABASE_URL": database_url(),
        "MODELYARD_REDIS_URL": redis_url,
        "MODELYARD_ARTIFACT_ROOT": artifact_root.as_uri(),
    }
    command = [sys.executable, "-m", "modelyard.cli.main", "lifecycle", "scan", "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("with_redis", [True, False])
def test_a_use_acknowledged_before_a_scan_in_another_process_wins(
    alice, stale, clock, artifact_root, clean_redis, settings, monkeypatch, tmp_path, with_redis
) -> None:
    settings.REDIS_URL = clean_redis if with_redis else ""
    monkeypatch.setattr(access, "_tracker", None)  # this process's tracker, on that sink
    clock.step(31)
    clock.step(51)  # final notice sent on day 51; deletion due from day 61 (now is day 100)
    assert state(stale[0]) == LifecycleState.FINAL_NOTICE
    response = alice.post("/models/red/churn/versions/1/access")
    assert response.status_code == 202
    _scan_in_another_process(tmp_path / "home", artifact_root, settings.REDIS_URL)
    assert state(stale[0]) == LifecycleState.ACTIVE  # reset by the use
    assert state(stale[1]) in (LifecycleState.DELETING, LifecycleState.DELETED)
