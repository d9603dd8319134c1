"""Batches of one source pushed at once from several threads (each its own database
connection): every event counted once, in the tiles and in the log, whatever the overlap."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection

from modelyard.features import offline, online, services
from modelyard.features.models import SeenEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def batches(seed: int) -> list[list[dict[str, Any]]]:
    generator = random.Random(seed)
    found = []
    for _ in range(20):
        # Ids drawn from a shared pool: threads send many of the same events.
        ids = generator.sample(range(120), 20)
        found.append(
            [
                {
                    "event_id": f"e{n}",
                    "user_id": n % 7,
                    "amount": float(n),
                    "page": "home",
                    "ts": (NOW - timedelta(minutes=5 + n % 50)).isoformat(),
                }
                for n in ids
            ]
        )
    return found


def push_all(source: Any, seed: int) -> int:
    try:
        return sum(services.ingest("test", source, batch).accepted for batch in batches(seed))
    finally:
        connection.close()


def test_concurrent_batches_count_each_event_once(applied: Any) -> None:
    view = applied()["user_activity"]

    with time_machine.travel(NOW, tick=False), ThreadPoolExecutor(4) as pool:
        accepted = sum(pool.map(lambda seed: push_all(view.source, seed), range(4)))

    unique = {e["event_id"] for seed in range(4) for batch in batches(seed) for e in batch}
    assert accepted == len(unique) == SeenEvent.objects.count()
    log = offline.read_log(view.source)
    assert sorted(e["event_id"] for e in log) == sorted(unique)
    with time_machine.travel(NOW, tick=False):
        values = online.read(view, [[user] for user in range(7)])
    per_user = [sum(1 for e in log if e["user_id"] == user) for user in range(7)]
    assert [v["clicks_1h"] for v in values] == per_user
