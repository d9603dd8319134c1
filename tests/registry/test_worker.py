"""A real Celery worker process on a real Redis broker carries out a deletion."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from modelyard.registry import services
from modelyard.registry.models import AssetVersion, LifecycleState
from tests.fixtures.worker import broker_for, celery_worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker_url(redis_url: str) -> Iterator[str]:
    url = broker_for(redis_url)
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def worker(
    broker_url: str, artifact_root: Path, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with celery_worker(broker_url, tmp_path / "worker-home", artifact_root.as_uri()) as process:
        yield process


def test_worker_deletes_bytes_of_a_scheduled_version(
    alice, artifact_root, broker_url, worker
) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x" * 64}, {})
    version = AssetVersion.objects.get()
    # Mark it the way the service does, but hand the task to the real broker ourselves:
    # the test process runs tasks eagerly, the worker process consumes from Redis.
    AssetVersion.objects.filter(pk=version.pk).update(lifecycle_state=LifecycleState.DELETING)
    sender = Celery(broker=broker_url, set_as_current=False)
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
