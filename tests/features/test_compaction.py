"""Compaction merges each day's batch files into one without changing what readers see: the
same events, the same training-set values, and a merge whose manifest is not written yet is
ignored (the small files it would replace stay live)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
import time_machine

from modelyard import storage
from modelyard.features import compaction, offline, services

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


def push(source: Any, batches: int, first: int = 0) -> None:
    """Batches of 3 events around midnight: each batch writes a file into two day folders."""
    for batch in range(first, first + batches):
        events = [
            {
                "event_id": f"b{batch}-{n}",
                "user_id": n,
                "amount": 1.5 + batch,
                "page": "home",
                "ts": (
                    NOW.replace(hour=0) - timedelta(minutes=40) + timedelta(minutes=30 * n)
                ).isoformat(),
            }
            for n in range(3)
        ]
        services.ingest("test", source, events)


def training(view: Any) -> list[dict[str, Any]]:
    rows = pa.Table.from_pylist([{"user_id": n, "timestamp": NOW} for n in range(3)])
    return offline.training_table(rows, "timestamp", services.selections(view.ref)).to_pylist()


def test_each_day_becomes_one_file_with_the_same_events_and_values(applied: Any) -> None:
    view = applied()["user_activity"]
    source = view.source
    progress: list[tuple[int, int]] = []
    with time_machine.travel(NOW, tick=False):
        push(source, 4)
        prefix = offline.log_prefix(source)
        store = storage.get_store(prefix)
        before_files = offline.live_files(store, prefix)
        before_events = sorted(r["event_id"] for r in offline.read_log(source))
        before_values = training(view)

        done = compaction.compact(source, progress=lambda d, n: progress.append((d, n)))
        push(source, 1, first=4)  # a batch after the merge stays live next to the merged file

        after_files = offline.live_files(store, prefix)
        after_values = training(view)

    assert len(before_files) == 8
    assert (done.days, done.files_merged, done.events) == (2, 8, 12)
    assert progress == [(1, 2), (2, 2)]
    assert len([uri for uri in after_files if "/compact-" in uri]) == 2
    assert len(after_files) == 4
    events = sorted(r["event_id"] for r in offline.read_log(source))
    assert len(events) == 15
    assert set(before_events) <= set(events)
    assert (
        before_values[0]["user_activity__clicks_7d"] < after_values[0]["user_activity__clicks_7d"]
    )


def test_a_merged_file_counts_only_once_its_manifest_is_written(applied: Any) -> None:
    view = applied()["user_activity"]
    with time_machine.travel(NOW, tick=False):
        push(view.source, 2)
        values = training(view)
        prefix = offline.log_prefix(view.source)
        store = storage.get_store(prefix)
        files = offline.live_files(store, prefix)
        day = files[0].rsplit("/", 1)[0]
        with store.open(files[0]) as stream:
            payload = stream.read()
        store.put(f"{day}/compact-20261201T000000000000.parquet", io.BytesIO(payload))
        assert offline.live_files(store, prefix) == files  # no manifest: ignored
        assert training(view) == values

        manifest = {"replaces": [files[0].rsplit("/", 1)[-1]]}
        store.put(
            f"{day}/compact-20261201T000000000000.json", io.BytesIO(json.dumps(manifest).encode())
        )
        assert len(offline.live_files(store, prefix)) == len(files)  # one swapped for the other
        assert training(view) == values
