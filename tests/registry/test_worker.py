"""A real Celery worker process on a real Redis broker carries out a deletion."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings as django_settings

from modelyard.registry import services
from modelyard.registry.models import AssetVersion, LifecycleState

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    database = django_settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    user = database["USER"] or "postgres"
    return f"postgresql://{user}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"


@pytest.fixture
def broker_url(redis_url: str) -> Iterator[str]:
    url = redis_url.rsplit("/", 1)[0] + "/14"
    import redis

    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def worker(
    broker_url: str, artifact_root: Path, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "modelyard.settings",
        "MODELYARD_HOME": str(tmp_path / "worker-home"),
        "MODELYARD_DATABASE_URL": database_url(),
        "MODELYARD_BROKER_URL": broker_url,
        "MODELYARD_ARTIFACT_ROOT": artifact_root.as_uri(),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "modelyard.celery",
        "worker",
        "--queues",
        "deletions",
        "--concurrency",
        "1",
        "--pool",
        "solo",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]
    process = subprocess.Popen(command, env=env)
    yield process
    process.terminate()
    process.wait(timeout=20)


def test_worker_deletes_bytes_of_a_scheduled_version(
    alice, artifact_root, broker_url, worker
) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x" * 64}, {})
    version = AssetVersion.objects.get()
    # Mark it the way the service does, but hand the task to the real broker ourselves:
    # the test process runs tasks eagerly, the worker process consumes from Redis.
    AssetVersion.objects.filter(pk=version.pk).update(lifecycle_state=LifecycleState.DELETING)
    sender = Celery(broker=broker_url)
    sender.send_task(
        "modelyard.registry.tasks.delete_version_bytes", args=[version.pk], queue="deletions"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        version.refresh_from_db()
        if version.lifecycle_state == LifecycleState.DELETED:
            break
        time.sleep(0.3)
    assert version.lifecycle_state == LifecycleState.DELETED
    assert version.bytes_reclaimed == 64
    assert [p for p in artifact_root.rglob("*") if p.is_file()] == []
    assert services.delete_bytes(version.pk) == 0  # a second delivery does nothing
