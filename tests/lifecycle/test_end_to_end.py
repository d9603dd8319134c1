"""Days 30, 50 and 60 with everything real: PostgreSQL or SQLite, Redis as the broker, a
Celery worker process, an S3 endpoint, the local disk and an SMTP server.

Emails are received over SMTP and parsed; a Keep link and a Delete link are followed as a
person would (GET, then POST from the page); bytes disappear from S3 and disk, while the
kept version and the one in production survive.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from modelyard.lib import tasks as lib_tasks
from modelyard.registry.models import AssetVersion, LifecycleState
from modelyard.registry.services import set_alias
from tests.fixtures.worker import broker_for, celery_worker
from tests.lifecycle.conftest import Clock, register

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Deletions are queued on Redis for the worker process instead of running in this one.

    The test process keeps its eager Celery app (other tests need it); only the queueing of
    deletions is redirected, through a publisher of its own, as the same named task on the
    same `deletions` queue the production app uses.
    """
    url = broker_for(redis_url)
    redis.Redis.from_url(url).flushdb()
    publisher = Celery(broker=url, set_as_current=False)
    publisher.conf.task_routes = settings.CELERY_TASK_ROUTES  # deletions on `deletions`
    monkeypatch.setattr(lib_tasks, "current_app", publisher)
    yield url
    redis.Redis.from_url(url).flushdb()


def text_of(received) -> str:
    return received.message.get_body(preferencelist=("plain",)).get_content()


def link(body: str, action: str, ref: str) -> str:
    block = body.split(f" {ref},", 1)[1].split("\n- ", 1)[0]
    url = re.search(rf"https?://\S+(/lifecycle/{action}/\S+/)", block)
    assert url, f"no {action} link for {ref} in:\n{block}"
    return url.group(1)


def follow(path: str, signed_in: str = "") -> str:
    """Open the page (which changes nothing), then press its button, CSRF token and all.

    Delete links need a signed-in member of the team (`signed_in`); Keep works from the link.
    """
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(User.objects.get(username=signed_in))
    page = client.get(path)
    assert page.status_code == 200, page.content
    done = client.post(path, {"csrfmiddlewaretoken": page.cookies["csrftoken"].value})
    assert done.status_code == 200, done.content
    return done.content.decode()


def wait_until_deleted(*versions: AssetVersion, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {AssetVersion.objects.get(pk=v.pk).lifecycle_state for v in versions}
        if states == {LifecycleState.DELETED}:
            return
        time.sleep(0.3)
    raise AssertionError(f"still {states} after {timeout} s")


@pytest.fixture
def hive_table(hive_server, hive_cursor) -> Iterator[str]:
    """A managed Parquet table with rows on the HiveServer2 endpoint; yields its URI."""
    database = f"e2e_{uuid.uuid4().hex[:8]}"
    hive_cursor.execute(f"CREATE DATABASE {database}")
    hive_cursor.execute(f"CREATE TABLE {database}.scores (id INT) STORED AS PARQUET")
    hive_cursor.execute(f"INSERT INTO {database}.scores VALUES (1), (2), (3)")  # noqa: S608
    host, port = hive_server
    yield f"hive://{host}:{port}/{database}/scores"
    hive_cursor.execute(f"DROP DATABASE IF EXISTS {database} CASCADE")


def hive_tables(hive_cursor, uri: str) -> list[str]:
    database = uri.rsplit("/", 2)[1]
    hive_cursor.execute(f"SHOW TABLES IN {database}")
    return [row[1] for row in hive_cursor.fetchall()]


def test_thirty_fifty_sixty_days(
    alice,
    smtp_settings,
    broker,
    s3_bucket,
    s3_client,
    hive_table,
    hive_cursor,
    artifact_root: Path,
    tmp_path: Path,
    clock: Clock,
    declare_store,
) -> None:
    declare_store(f"s3://{s3_bucket}/", delete=True)  # where the referenced bytes live
    declare_store(hive_table.rsplit("/", 1)[0], delete=True)  # the table's database
    register(alice, "on-disk", clock.start)
    register(alice, "kept", clock.start)
    register(alice, "in-production", clock.start)
    promoted = AssetVersion.objects.get(asset__name="in-production")
    set_alias("system:test", promoted.asset, "production", promoted, reason="serving it")
    for index in range(3):
        s3_client.put_object(Bucket=s3_bucket, Key=f"models/red/part-{index}", Body=b"s" * 10)
    alice.post("/models", {"team": "red", "name": "on-s3"})
    alice.post(
        "/models/red/on-s3/versions",
        {
            "artifacts": [{"name": "parts", "uri": f"s3://{s3_bucket}/models/red"}],
            "created_at": clock.start.isoformat(),
            "last_accessed_at": clock.start.isoformat(),
        },
    )
    alice.post("/datasets", {"team": "red", "name": "in-hive"})
    registered = alice.post(
        "/datasets/red/in-hive/versions",
        {
            "artifacts": [{"name": "table", "uri": hive_table}],
            "flavor": "hive",
            "created_at": clock.start.isoformat(),
            "last_accessed_at": clock.start.isoformat(),
        },
    )
    assert registered.status_code == 201, registered.content
    versions = {v.asset.name: v for v in AssetVersion.objects.select_related("asset")}

    with celery_worker(broker, tmp_path / "worker", artifact_root.as_uri()):
        clock.step(31)
        first = smtp_settings.wait_for(2)
        assert sorted(r.rcpt_tos[0] for r in first) == ["alice@example.com", "bob@example.com"]
        body = text_of(next(r for r in first if r.rcpt_tos == ["alice@example.com"]))
        assert "4 unused versions" in first[0].message["Subject"]
        assert "red/in-production:1" not in body
        assert "Keep red/kept:1" not in body
        assert "is kept" in follow(link(body, "keep", "red/kept:1"))

        smtp_settings.clear()
        clock.step(51)
        final = smtp_settings.wait_for(2)
        final_body = text_of(next(r for r in final if r.rcpt_tos == ["alice@example.com"]))
        assert "Final notice" in final[0].message["Subject"]
        assert "red/kept:1" not in final_body
        assert "is being deleted" in follow(link(final_body, "delete", "red/on-s3:1"), "alice")
        wait_until_deleted(versions["on-s3"])
        assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0

        clock.step(61.5)
        wait_until_deleted(versions["on-disk"], versions["in-hive"])
        assert hive_tables(hive_cursor, hive_table) == []

    remaining = sorted(
        str(p.relative_to(artifact_root)).split("/")[2] for p in artifact_root.rglob("*.bin")
    )
    assert remaining == ["in-production", "kept"]
    assert AssetVersion.objects.get(pk=versions["on-disk"].pk).bytes_reclaimed == 100
    assert AssetVersion.objects.get(pk=versions["kept"].pk).lifecycle_state == LifecycleState.ACTIVE
