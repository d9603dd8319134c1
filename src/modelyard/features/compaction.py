"""Compaction of the raw event log: a day's many small files (one per ingested batch) merged
into one, without a reader ever seeing an event twice or missing one.

A merge writes `compact-<stamp>.parquet`, then its manifest `compact-<stamp>.json` listing the
files it replaces, then deletes those files. Readers (offline.live_files) take a compacted
file only once its manifest exists, and skip every file a manifest lists: before the
manifest they read the small files, after it the merged one, whatever is deleted when.
Ingestion only ever adds new `part-…` files, so a batch landing during a merge stays live.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from modelyard import storage
from modelyard.features import engine, offline
from modelyard.features.models import Source

MIN_FILES = 2  # a day with fewer live files is left alone


@dataclass
class Compacted:
    days: int = 0
    files_merged: int = 0
    events: int = 0


def compact(source: Source, progress: Callable[[int, int], None] | None = None) -> Compacted:
    """Merge each day folder of the source's log that holds MIN_FILES live files or more."""
    prefix = offline.log_prefix(source)
    store = storage.get_store(prefix)
    by_day: dict[str, list[str]] = defaultdict(list)
    for uri in offline.live_files(store, prefix):
        by_day[uri.rsplit("/", 2)[-2]].append(uri)
    days = {day: uris for day, uris in sorted(by_day.items()) if len(uris) >= MIN_FILES}
    result = Compacted()
    for number, (day, uris) in enumerate(days.items(), 1):
        result.events += _merge(store, storage.join_uri(prefix, day), uris)
        result.days += 1
        result.files_merged += len(uris)
        if progress is not None:
            progress(number, len(days))
    return result


def _merge(store: storage.Store, folder: str, uris: list[str]) -> int:
    """One day's live files as one; the number of events in it."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    with tempfile.TemporaryDirectory() as scratch, engine.connect() as connection:
        local = []
        for number, uri in enumerate(uris):
            path = Path(scratch) / f"{number}.parquet"
            with store.open(uri) as stream, path.open("wb") as target:
                target.write(stream.read())
            local.append(path)
        merged = Path(scratch) / "merged.parquet"
        paths = ", ".join(engine.quote_path(path) for path in local)
        connection.execute(
            f"COPY (SELECT * FROM read_parquet([{paths}], union_by_name = true)) "
            f"TO {engine.quote_path(merged)} (FORMAT parquet)"
        )
        events = connection.execute(
            f"SELECT count(*) FROM read_parquet({engine.quote_path(merged)})"
        ).fetchall()[0][0]
        target_uri = storage.join_uri(folder, f"compact-{stamp}.parquet")
        with merged.open("rb") as stream:
            store.put(target_uri, stream)
    replaced = [uri.rsplit("/", 1)[-1] for uri in uris]
    manifest = json.dumps({"replaces": replaced}).encode()
    store.put(storage.join_uri(folder, f"compact-{stamp}.json"), io.BytesIO(manifest))
    for uri in uris:
        store.delete(uri)
        if uri.rsplit("/", 1)[-1].startswith("compact-"):  # an earlier merge, now merged again
            store.delete(uri.removesuffix(".parquet") + ".json")
    return int(events)
