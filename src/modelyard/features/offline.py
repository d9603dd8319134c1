"""The offline store: each source's raw event log as Parquet, and point-in-time training sets.

The log is append-only, one file per batch and day, under
`<artifact root>/<team>/features/<source>/date=YYYY-MM-DD/part-<time>-<id>.parquet`; each
file is written whole or not at all (the stores' `put` is atomic). Training sets fold the
log's events with the same aggregations as the online tiles (aggregations.py), so a row's
values are what the online store answers at that row's time.
"""

from __future__ import annotations

import io
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.utils import timezone

from modelyard import storage
from modelyard.features.aggregations import (
    AGGREGATIONS,
    MICROS,
    ViewDefinition,
    column_value,
    finish_features,
    fold,
    window_end,
)
from modelyard.features.models import Source, View
from modelyard.features.online import entity_key, row_key
from modelyard.features.validation import RowError, from_micros, parse_timestamp
from modelyard.lib.errors import InvalidInput

ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def log_prefix(source: Source) -> str:
    return storage.join_uri(settings.ARTIFACT_ROOT, source.team.name, "features", source.name)


def append(source: Source, rows: list[dict[str, Any]]) -> list[str]:
    """Write the rows as one Parquet file per event day; the URIs written."""
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_day[from_micros(row[source.time_column]).date().isoformat()].append(row)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    written = []
    for day, day_rows in sorted(by_day.items()):
        uri = storage.join_uri(
            log_prefix(source), f"date={day}", f"part-{stamp}-{uuid.uuid4().hex[:12]}.parquet"
        )
        storage.get_store(uri).put(uri, io.BytesIO(_parquet(source.schema, day_rows)))
        written.append(uri)
    return written


def discard(uris: Iterable[str]) -> None:
    """Remove files a failed ingestion wrote, so the log holds only committed batches."""
    for uri in uris:
        storage.get_store(uri).delete(uri)


def _parquet(schema: dict[str, str], rows: list[dict[str, Any]]) -> bytes:
    arrays = [pa.array([row[c] for row in rows], type=ARROW_TYPES[k]) for c, k in schema.items()]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=list(schema)), buffer)
    return buffer.getvalue()


def has_events(source: Source) -> bool:
    prefix = log_prefix(source)
    try:
        return any(
            entry.uri.endswith(".parquet") for entry in storage.get_store(prefix).list(prefix)
        )
    except storage.ObjectNotFound:
        return False


def read_log(source: Source) -> list[dict[str, Any]]:
    """Every event of the source, timestamps as microseconds since the epoch."""
    prefix = log_prefix(source)
    store = storage.get_store(prefix)
    rows: list[dict[str, Any]] = []
    try:
        entries = list(store.list(prefix))
    except storage.ObjectNotFound:
        return rows  # no event pushed yet
    for entry in entries:
        if entry.uri.endswith(".parquet"):
            with store.open(entry.uri) as stream:
                table = pq.read_table(io.BytesIO(stream.read()))
            rows.extend(_plain(table, source.schema).to_pylist())
    return rows


def _plain(table: pa.Table, schema: dict[str, str]) -> pa.Table:
    for index, name in enumerate(table.column_names):
        if schema.get(name) == "timestamp":
            table = table.set_column(index, name, table.column(name).cast(pa.int64()))
    return table


@dataclass
class EntityEvents:
    """One entity's events that pass a view's filter, sorted by time."""

    times: list[int]
    rows: list[dict[str, Any]]


def index_events(definition: ViewDefinition, rows: list[dict[str, Any]]) -> dict[str, EntityEvents]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if definition.row_filter is None or definition.row_filter.passes(row):
            grouped[row_key(definition, row)].append(row)
    column = definition.time_column
    index = {}
    for key, found in grouped.items():
        found.sort(key=lambda row: row[column])
        index[key] = EntityEvents([row[column] for row in found], found)
    return index


def values_at(
    definition: ViewDefinition, events: EntityEvents | None, at_us: int
) -> dict[str, Any]:
    """The view's features as of `at_us`, folded from raw events (the online store's answer)."""
    end_us = window_end(at_us) * MICROS
    states = {}
    for feature in definition.aggregates:
        aggregation = AGGREGATIONS[feature.aggregation]
        state = aggregation.empty()
        if events is not None:
            window = feature.window_seconds
            low = 0 if window is None else bisect_left(events.times, end_us - window * MICROS)
            high = bisect_left(events.times, end_us)
            pairs = (
                (events.times[i], column_value(feature, events.rows[i])) for i in range(low, high)
            )
            state = fold(aggregation, state, pairs)
        states[feature.name] = state
    return finish_features(definition, states)


@dataclass(frozen=True)
class Selection:
    view: View
    features: list[str]  # empty: all of the view's features


def training_set(
    entity_rows: list[dict[str, Any]], time_column: str, selections: list[Selection]
) -> list[dict[str, Any]]:
    """Each entity row with the selected features as of its time (`view__feature` columns).

    `entity_rows` carry the views' key columns and `time_column` in microseconds.
    """
    out = [dict(row) for row in entity_rows]
    for selection in selections:
        definition = selection.view.aggregation_definition()
        index = index_events(definition, read_log(selection.view.source))
        names = selection.features or [f.name for f in definition.features]
        for row in out:
            key = entity_key([row[column] for column in definition.keys])
            values = values_at(definition, index.get(key), row[time_column])
            row.update({f"{selection.view.name}__{name}": values[name] for name in names})
    return out


def training_table(entities: pa.Table, time_column: str, selections: list[Selection]) -> pa.Table:
    """The entity table (keys, `time_column`, anything else such as a label) with the
    selected features as of each row's time appended as `view__feature` columns."""
    if time_column not in entities.column_names:
        raise InvalidInput(
            f"The entity file has no column {time_column!r} (it has "
            f"{', '.join(entities.column_names)}); name the time column with --time-column."
        )
    rows = entities.to_pylist()
    for index, row in enumerate(rows):
        row[time_column] = _row_time(row[time_column], index, time_column)
    for selection in selections:
        missing = [k for k in selection.view.source.keys if k not in entities.column_names]
        if missing:
            raise InvalidInput(
                f"The entity file lacks key column(s) {', '.join(missing)} of view "
                f"{selection.view.ref}."
            )
    built = training_set(rows, time_column, selections)
    for row in built:
        row[time_column] = from_micros(row[time_column])
    return pa.Table.from_pylist(built)


def _row_time(value: Any, index: int, column: str) -> int:
    try:
        return parse_timestamp(value, column)
    except RowError as error:
        raise InvalidInput(f"Entity row {index}: {error}") from None


def write_parquet(table: pa.Table, uri: str) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    storage.get_store(uri).put(uri, buffer)
