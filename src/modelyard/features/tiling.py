"""A batch of events as partial states per tile, computed column-wise (numpy and pyarrow).

The per-event way (for each event, for each tile size, for each feature: `add`) costs
about 50 Python calls an event; this groups the batch by (entity, tile) once per tile size
and builds each group's state at once. The states are those `aggregations.py` defines,
equal to folding the group's events with `add` (tests/features/test_tiling.py checks it
against that fold): counts are group sizes, sums the exact partials of the group's values
(`exact_partials`), min and max the group's extremes, `last` the group's greatest
(time, value), distinct counts the group's sorted distinct values.

Django-free, like aggregations.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.features.aggregations import (
    MICROS,
    TILE_SECONDS,
    Feature,
    State,
    ViewDefinition,
    exact_partials,
)

Slot = tuple[str, int, int]  # entity key, tile size, tile start (seconds)
Updates = dict[Slot, dict[str, State]]
ARROW_OPS = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal}
ARROW_OPS |= {">": pc.greater, ">=": pc.greater_equal}


def entity_key(keys: Sequence[Any]) -> str:
    """How an entity is named in the online store: its key values as compact JSON."""
    return json.dumps(list(keys), separators=(",", ":"))


class Groups:
    """The rows of a batch grouped by (entity, tile start) for one tile size: `order` sorts
    the rows by group, `bounds` are where each group begins in that order."""

    def __init__(
        self, codes: np.ndarray[Any, Any], starts: np.ndarray[Any, Any], times: pa.ChunkedArray
    ) -> None:
        self.times = times
        low = int(starts.min())
        span = int(starts.max()) - low + 1
        combined = codes.astype(np.int64) * span + (starts - low)
        unique, inverse = np.unique(combined, return_inverse=True)
        self.order = np.argsort(inverse, kind="stable")
        self.sizes = np.bincount(inverse)
        self.bounds = np.concatenate(([0], np.cumsum(self.sizes)[:-1]))
        self.codes = (unique // span).tolist()
        self.starts = (unique % span + low).tolist()
        self.inverse = inverse

    def slices(self) -> list[tuple[int, int]]:
        ends = self.bounds + self.sizes
        return list(zip(self.bounds.tolist(), ends.tolist(), strict=True))


def tile_updates(definition: ViewDefinition, events: pa.Table) -> Updates:
    """The batch's partial states per tile (every size), ready to merge into the store.

    `events` has the source's columns, the time column as int64 microseconds."""
    events = _passing(definition, events)
    if events.num_rows == 0:
        return {}
    keys, codes = _entity_codes(events, definition.keys)
    times = events.column(definition.time_column)
    seconds = times.to_numpy() // MICROS
    updates: Updates = {}
    for size in TILE_SECONDS:
        groups = Groups(codes, seconds // size * size, times)
        columns = {name: _states(f, events, groups) for name, f in definition.states.items()}
        names = list(columns)
        for index, (code, start) in enumerate(zip(groups.codes, groups.starts, strict=True)):
            updates[(keys[code], size, start)] = {n: columns[n][index] for n in names}
    return updates


def _passing(definition: ViewDefinition, events: pa.Table) -> pa.Table:
    row_filter = definition.row_filter
    if row_filter is None:
        return events
    column = events.column(row_filter.column)
    literal = pa.scalar(row_filter.literal, type=column.type)
    return events.filter(ARROW_OPS[row_filter.op](column, literal))


def _entity_codes(events: pa.Table, columns: Sequence[str]) -> tuple[list[str], Any]:
    """Each distinct entity's key text, and each row's index into them."""
    combined = np.zeros(events.num_rows, dtype=np.int64)
    uniques = []
    for column in columns:
        encoded = pc.dictionary_encode(events.column(column)).combine_chunks()
        uniques.append(encoded.dictionary.to_pylist())
        combined = combined * len(encoded.dictionary) + encoded.indices.to_numpy()
    distinct, codes = np.unique(combined, return_inverse=True)
    keys = []
    for value in distinct.tolist():
        parts = []
        for values in reversed(uniques):
            value, index = divmod(value, len(values))
            parts.append(values[index])
        keys.append(entity_key(parts[::-1]))
    return keys, codes


def _states(feature: Feature, events: pa.Table, groups: Groups) -> list[State]:
    return STATES[feature.aggregation](feature, events, groups)


def _sorted_values(feature: Feature, events: pa.Table, groups: Groups) -> list[Any]:
    return events.column(feature.column).take(groups.order).to_pylist()  # type: ignore[no-any-return]


def _count(feature: Feature, events: pa.Table, groups: Groups) -> list[State]:
    return groups.sizes.tolist()  # type: ignore[no-any-return]


def _sum(feature: Feature, events: pa.Table, groups: Groups) -> list[State]:
    values = [float(v) for v in _sorted_values(feature, events, groups)]
    # A group of one event (most minute tiles) is its value; only larger groups need fsum.
    return [
        [values[low]] if high - low == 1 else exact_partials(values[low:high])
        for low, high in groups.slices()
    ]


def _mean(feature: Feature, events: pa.Table, groups: Groups) -> list[State]:
    sums = _sum(feature, events, groups)
    return [[size, partials] for size, partials in zip(groups.sizes.tolist(), sums, strict=True)]


def _extreme(pick: Callable[[Sequence[Any]], Any]) -> Callable[..., list[State]]:
    def states(feature: Feature, events: pa.Table, groups: Groups) -> list[State]:
        values = _sorted_values(feature, events, groups)
        return [pick(values[low:high]) for low, high in groups.slices()]

    return states


def _last(feature: Feature, events: pa.Table, groups: Groups) -> list[State]:
    """The greatest (time, value) of each group: rows sorted by group, time and value."""
    table = pa.table({"g": groups.inverse, "t": groups.times, "v": events.column(feature.column)})
    keys = [("g", "ascending"), ("t", "ascending"), ("v", "ascending")]
    last_rows = pc.sort_indices(table, sort_keys=keys).take(groups.bounds + groups.sizes - 1)
    times = table.column("t").take(last_rows).to_pylist()
    values = table.column("v").take(last_rows).to_pylist()
    return [[time, value] for time, value in zip(times, values, strict=True)]


def _distinct(feature: Feature, events: pa.Table, groups: Groups) -> list[State]:
    values = _sorted_values(feature, events, groups)
    return [sorted(set(values[low:high])) for low, high in groups.slices()]


STATES: dict[str, Callable[[Feature, pa.Table, Groups], list[State]]] = {
    "count": _count,
    "sum": _sum,
    "mean": _mean,
    "min": _extreme(min),
    "max": _extreme(max),
    "last": _last,
    "distinct_count": _distinct,
}
