"""The online store: tiles of partial aggregates, exact windows at read time.

Each event adds to one tile of every size in TILE_SECONDS; a window is read as the few
tiles that cover it exactly (aggregations.cover), so a 30-day window merges about a
hundred tiles, never the raw events. Where tiles live (the database or Redis) is the
backend's business (online_stores.py); merging and folding them is this module's.

Which tiles a read needs depends only on the view and the minute read at, never on the
entity: a windowed feature covers [end - window, end), and a lifetime one every tile of the
largest size before the last boundary of that size plus the cover of the rest. So a read
of many entities asks the store for one list of tiles, and the list is worked out once a
minute (`_plan`).

`read(view, entities, at_us=None)` is the one entry point for online reads (the API, the
prediction server's feature routes and its by-entity predictions all call it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyarrow as pa
from django.utils import timezone

from modelyard.features.aggregations import (
    AGGREGATIONS,
    MICROS,
    TILE_SECONDS,
    Feature,
    State,
    ViewDefinition,
    cover,
    finish_features,
    state_name,
    window_end,
)
from modelyard.features.models import View
from modelyard.features.online_stores import EntityTiles, get_store
from modelyard.features.tiling import Slot, Updates, entity_key
from modelyard.features.tiling import tile_updates as _table_updates
from modelyard.features.validation import to_micros

LARGEST = TILE_SECONDS[0]
ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.int64(),  # microseconds since the epoch, as checked rows carry them
}


def row_key(definition: ViewDefinition, row: dict[str, Any]) -> str:
    return entity_key([row[column] for column in definition.keys])


def events_table(schema: dict[str, str], rows: list[dict[str, Any]]) -> pa.Table:
    """Checked rows (validation.check_rows) as an Arrow table, times in microseconds."""
    return pa.table(
        {
            column: pa.array([row[column] for row in rows], ARROW_TYPES[kind])
            for column, kind in schema.items()
        }
    )


def tile_updates(
    definition: ViewDefinition,
    events: pa.Table | list[dict[str, Any]],
    schema: dict[str, str] | None = None,
) -> Updates:
    """The batch's partial states per tile, ready to merge into the stored tiles. `events`
    is an Arrow table (times as int64 microseconds) or checked rows with their schema."""
    if not isinstance(events, pa.Table):
        if not events:
            return {}
        events = events_table(schema or _schema_of(events[0]), events)
    return _table_updates(definition, events)


def _schema_of(row: dict[str, Any]) -> dict[str, str]:
    kinds = {bool: "bool", int: "int", float: "float", str: "string"}
    return {column: kinds[type(value)] for column, value in row.items()}


def store_tiles(view: View, updates: Updates, newest_us: int | None = None) -> None:
    """Merge partial states into the view's tiles. The caller holds the source's lock."""
    if not updates and newest_us is None:
        return
    store = get_store()
    definition = view.aggregation_definition()
    existing = store.stored(view.pk, updates)
    merged = {
        slot: _merge(definition.states, existing[slot], states) if slot in existing else states
        for slot, states in updates.items()
    }
    store.write(view.pk, merged, newest_us)


def clear_tiles(view: View) -> None:
    get_store().clear(view.pk)


def _merge(
    states: dict[str, Feature], left: dict[str, State], right: dict[str, State]
) -> dict[str, State]:
    merged = {}
    for name, feature in states.items():
        aggregation = AGGREGATIONS[feature.aggregation]
        stored = left.get(name)  # None: a tile written under an older definition
        merged[name] = right[name] if stored is None else aggregation.merge(stored, right[name])
    return merged


# --- reads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    values: list[dict[str, Any]]  # each entity's features, in the order asked
    newest_us: int | None  # time of the newest event applied to the view


def read(view: View, entities: list[list[Any]], at_us: int | None = None) -> list[dict[str, Any]]:
    """Each entity's feature values as of `at_us` (default now), in the order given."""
    return lookup(view, entities, at_us).values


def lookup(view: View, entities: list[list[Any]], at_us: int | None = None) -> Answer:
    """`read`, with the view's newest event as the store knows it (one round trip)."""
    definition = view.aggregation_definition()
    at_us = to_micros(timezone.now()) if at_us is None else at_us
    plan = _plan(definition, window_end(at_us))
    keys = [entity_key(values) for values in entities]
    fetched = get_store().fetch(view.pk, keys, plan.slots, plan.large_before)
    values = [finish_features(definition, _fold(plan, fetched.tiles.get(key, {}))) for key in keys]
    return Answer(values, fetched.newest_us)


@dataclass(frozen=True)
class Window:
    features: tuple[Feature, ...]
    slots: tuple[tuple[int, int], ...]  # (size, start) of its cover
    lifetime: bool  # also every largest tile before `large_before`


@dataclass(frozen=True)
class Plan:
    windows: tuple[Window, ...]
    slots: list[tuple[int, int]]  # every window's cover: what to fetch
    large_before: int


@lru_cache(maxsize=512)
def _plan(definition: ViewDefinition, end: int) -> Plan:
    """Which tiles each window of the view covers when read at minute `end`."""
    large_before = end // LARGEST * LARGEST
    windows = []
    for window in definition.windows():
        features = tuple(f for f in definition.aggregates if f.window_seconds == window)
        start = large_before if window is None else end - window
        windows.append(Window(features, tuple(cover(start, end)), window is None))
    slots = sorted({slot for window in windows for slot in window.slots})
    return Plan(tuple(windows), slots, large_before)


def _fold(plan: Plan, tiles: EntityTiles) -> dict[str, State]:
    states: dict[str, State] = {}
    for window in plan.windows:
        found = [tiles[slot] for slot in window.slots if slot in tiles]
        if window.lifetime:
            found += [
                states_
                for (size, start), states_ in tiles.items()
                if size == LARGEST and start < plan.large_before
            ]
        for feature in window.features:
            aggregation = AGGREGATIONS[feature.aggregation]
            name = state_name(feature)
            state = aggregation.empty()
            for tile in found:
                if name in tile:  # not in a tile written under an older definition
                    state = aggregation.merge(state, tile[name])
            states[feature.name] = state
    return states


def freshness_seconds(view: View) -> float | None:
    """Age of the newest event applied to the view's tiles."""
    if view.newest_event_at is None:
        return None
    return (timezone.now() - view.newest_event_at).total_seconds()


def age_seconds(newest_us: int | None) -> float | None:
    return None if newest_us is None else (to_micros(timezone.now()) - newest_us) / MICROS


__all__ = ["MICROS", "Slot", "entity_key", "lookup", "read", "store_tiles", "tile_updates"]
