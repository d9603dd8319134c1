"""Write-behind access tracking: cheap hits, few writes, last use only moves forward."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from modelyard.registry import access
from modelyard.registry.models import AssetVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(alice, artifact_root: Path) -> list[AssetVersion]:
    old = (timezone.now() - timedelta(days=40)).isoformat()
    alice.post("/models", {"team": "red", "name": "churn"})
    for _ in range(3):
        alice.upload(
            "/models/red/churn/versions/upload",
            {"m": b"x"},
            {"created_at": old, "last_accessed_at": old},
        )
    return list(AssetVersion.objects.order_by("version"))


def updates_in(queries: CaptureQueriesContext) -> int:
    return sum(
        1 for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")
    )


def test_many_hits_become_one_statement_per_flush(versions) -> None:
    tracker = access.AccessTracker(access.DatabaseSink(), interval=3600)
    for _ in range(1000):
        for version in versions:
            tracker.record(version.pk)
    with CaptureQueriesContext(connection) as queries:
        assert tracker.flush() == 3
    assert updates_in(queries) == 1
    for version in AssetVersion.objects.all():
        assert timezone.now() - version.last_accessed_at < timedelta(minutes=1)


def test_older_hit_never_moves_last_use_back(versions) -> None:
    version = versions[0]
    recent = timezone.now().timestamp()
    access.write_last_access({version.pk: recent})
    access.write_last_access({version.pk: recent - 86400 * 10})
    version.refresh_from_db()
    assert abs(version.last_accessed_at.timestamp() - recent) < 1e-3


def test_failed_flush_keeps_hits_for_next_time(versions) -> None:
    class Failing(access.Sink):
        def push(self, hits) -> None:
            raise ConnectionError("database away")

    tracker = access.AccessTracker(Failing(), interval=3600)
    tracker.record(versions[0].pk)
    with pytest.raises(ConnectionError):
        tracker.flush()
    assert tracker.pending() == 1
    tracker.sink = access.DatabaseSink()
    assert tracker.flush() == 1


@pytest.mark.integration
def test_redis_sink_merges_processes_and_drains_to_database(
    versions, clean_redis, settings
) -> None:
    settings.REDIS_URL = clean_redis
    replica_a = access.AccessTracker(access.RedisSink(clean_redis), interval=3600)
    replica_b = access.AccessTracker(access.RedisSink(clean_redis), interval=3600)
    now = timezone.now().timestamp()
    replica_a.record(versions[0].pk, at=now)
    replica_b.record(versions[0].pk, at=now - 100)  # older: must not win
    replica_b.record(versions[1].pk, at=now)
    replica_a.flush()
    replica_b.flush()
    with CaptureQueriesContext(connection) as queries:
        result = access.drain_redis_to_database()
    assert (result.versions, result.statements) == (2, 1)
    assert updates_in(queries) == 1
    assert (
        abs(AssetVersion.objects.get(pk=versions[0].pk).last_accessed_at.timestamp() - now) < 1e-3
    )
    assert access.drain_redis_to_database().versions == 0
