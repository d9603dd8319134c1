"""The offline store: each source's raw event log as Parquet, and point-in-time training sets.

The log is append-only, one file per batch and day, under
`<artifact root>/<team>/features/<source>/date=YYYY-MM-DD/part-<time>-<id>.parquet`; each
file is written whole or not at all (the stores' `put` is atomic). Training sets fold the
log's events with the same aggregations as the online tiles (aggregations.py), so a row's
values are what the online store answers at that row's time.
"""

from __future__ import annotations

import io
import json
import tempfile
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.utils import timezone

from modelyard import storage
from modelyard.features import engine
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
from modelyard.features.validation import from_micros
from modelyard.lib.errors import InvalidInput

ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def log_prefix(source: Source, root: str | None = None) -> str:
    """Where the source's raw event log lives under this deployment's artifact root (or
    another deployment's `root`, features/mirror.py)."""
    base = settings.ARTIFACT_ROOT if root is None else root
    return storage.join_uri(base, source.team.name, "features", source.name)


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
    return bool(live_files(storage.get_store(prefix), prefix))


def live_files(store: storage.Store, prefix: str) -> list[str]:
    """The log's Parquet files a reader takes (features/compaction.py): every file but those
    a compaction manifest replaces, and no merged file whose manifest is not written yet."""
    try:
        names = [entry.uri for entry in store.list(prefix)]
    except storage.ObjectNotFound:
        return []  # no event pushed yet
    replaced: set[str] = set()
    manifests = {uri for uri in names if uri.endswith(".json") and "/compact-" in uri}
    for uri in manifests:
        with store.open(uri) as stream:
            folder = uri.rsplit("/", 1)[0]
            replaced |= {f"{folder}/{name}" for name in json.load(stream)["replaces"]}
    return sorted(
        uri
        for uri in names
        if uri.endswith(".parquet")
        and uri not in replaced
        and ("/compact-" not in uri or uri.removesuffix(".parquet") + ".json" in manifests)
    )


def read_log(source: Source) -> list[dict[str, Any]]:
    """Every event of the source, timestamps as microseconds since the epoch."""
    prefix = log_prefix(source)
    store = storage.get_store(prefix)
    rows: list[dict[str, Any]] = []
    for uri in live_files(store, prefix):
        with store.open(uri) as stream:
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

    `entity_rows` carry the views' key columns and `time_column` in microseconds; the rows
    come back in the same order, with `time_column` as given."""
    if not entity_rows:
        return []
    table = micros_as_times(pa.Table.from_pylist(entity_rows), time_column)
    built: list[dict[str, Any]] = training_table(table, time_column, selections).to_pylist()
    for given, row in zip(entity_rows, built, strict=True):
        row[time_column] = given[time_column]
    return built


def micros_as_times(table: pa.Table, column: str) -> pa.Table:
    """`column` of microseconds since the epoch as a UTC timestamp (a number in an entity
    file means seconds, as in events)."""
    index = table.column_names.index(column)
    times = table.column(column).cast(pa.int64()).cast(ARROW_TYPES["timestamp"])
    return table.set_column(index, column, times)


def training_table(entities: pa.Table, time_column: str, selections: list[Selection]) -> pa.Table:
    """The entity table (keys, `time_column`, anything else such as a label) with the
    selected features as of each row's time appended as `view__feature` columns."""
    with engine.connect() as connection, tempfile.TemporaryDirectory() as folder:
        connection.register("__entities", entities)
        query = _training_query(connection, "__entities", time_column, selections, Path(folder))
        return connection.sql(query).to_arrow_table()


def write_training_set(
    entities: Path, time_column: str, selections: list[Selection], uri: str
) -> int:
    """The training set of an entity file (Parquet or CSV) written as Parquet to `uri`,
    streamed by the engine (never whole in memory); the number of rows."""
    with engine.connect() as connection, tempfile.TemporaryDirectory() as folder:
        reader = "read_csv" if entities.suffix.lower() == ".csv" else "read_parquet"
        source = f"{reader}({engine.quote_path(entities)})"
        query = _training_query(connection, source, time_column, selections, Path(folder))
        local = Path(folder) / "training.parquet"
        connection.execute(f"COPY ({query}) TO {engine.quote_path(local)} (FORMAT parquet)")
        rows = connection.execute(
            f"SELECT count(*) FROM read_parquet({engine.quote_path(local)})"
        ).fetchall()[0][0]
        with local.open("rb") as stream:
            storage.get_store(uri).put(uri, stream)
    return int(rows)


def _training_query(
    connection: Any, source: str, time_column: str, selections: list[Selection], folder: Path
) -> str:
    """SELECT of the entity rows in their order with every selected feature added."""
    columns = [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    for selection in selections:
        missing = [k for k in selection.view.source.keys if k not in columns]
        if missing:
            raise InvalidInput(
                f"The entity file lacks key column(s) {', '.join(missing)} of view "
                f"{selection.view.ref}."
            )
    return engine.training_query(
        connection,
        source,
        time_column,
        [_log_view(selection, folder / f"v{n}") for n, selection in enumerate(selections)],
        lambda table, log, names: _fold_in_python(connection, table, selections, log, names),
    )


def _log_view(selection: Selection, folder: Path) -> engine.LogView:
    view = selection.view
    definition = view.aggregation_definition()
    names = selection.features or [f.name for f in definition.features]
    files = log_files(view.source, folder)
    return engine.LogView(definition, files, view.source.schema, f"{view.name}__", names)


def _fold_in_python(
    connection: Any,
    table: str,
    selections: list[Selection],
    log: engine.LogView,
    names: list[str],
) -> list[dict[str, Any]]:
    """Features the engine cannot compute exactly (sums of values too far apart in
    magnitude for 128 bits), folded from the raw events like the reference: slow, rare."""
    view = next(s.view for s in selections if log.prefix == f"{s.view.name}__")
    definition = log.definition
    index = index_events(definition, read_log(view.source))
    keys = ", ".join(engine.quote(k) for k in definition.keys)
    found = connection.sql(f"SELECT {engine.ROW}, __time_us, {keys} FROM {table}").fetchall()
    computed = []
    for row_number, time_us, *key_values in found:
        values = values_at(definition, index.get(entity_key(key_values)), time_us)
        computed.append({engine.ROW: row_number, **{log.prefix + n: values[n] for n in names}})
    return computed


def log_files(source: Source, folder: Path, root: str | None = None) -> list[Path]:
    """The raw event log's live Parquet files as local paths: a file:// log is read where it
    is, another store's files are copied into `folder` first."""
    prefix = log_prefix(source, root)
    store = storage.get_store(prefix)
    uris = live_files(store, prefix)
    if storage.parse_uri(prefix).scheme == "file":
        return [storage.uri_to_path(uri) for uri in uris]
    paths = []
    for number, uri in enumerate(uris):
        path = folder / f"{number:06d}.parquet"
        folder.mkdir(parents=True, exist_ok=True)
        with store.open(uri) as stream, path.open("wb") as target:
            storage.base.copy_stream(stream, target)
        paths.append(path)
    return paths
