"""The online store: tiles of partial aggregates in the database, exact windows at read time.

Each event adds to one tile of every size in TILE_SECONDS; a window is read as the few
tiles that cover it exactly (aggregations.cover), so a 30-day window merges about a
hundred rows, never the raw events.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Min
from django.utils import timezone

from modelyard.features.aggregations import (
    AGGREGATIONS,
    MICROS,
    TILE_SECONDS,
    State,
    ViewDefinition,
    column_value,
    cover,
    finish_features,
    tile_start,
    window_end,
)
from modelyard.features.models import Tile, View
from modelyard.features.validation import to_micros

Slot = tuple[str, int, int]  # entity key, tile size, tile start
CHUNK = 500


def entity_key(keys: list[Any] | tuple[Any, ...]) -> str:
    return json.dumps(list(keys), separators=(",", ":"))


def row_key(definition: ViewDefinition, row: dict[str, Any]) -> str:
    return entity_key([row[column] for column in definition.keys])


def empty_states(definition: ViewDefinition) -> dict[str, State]:
    return {f.name: AGGREGATIONS[f.aggregation].empty() for f in definition.aggregates}


def merge_states(
    definition: ViewDefinition, left: dict[str, State], right: dict[str, State]
) -> dict[str, State]:
    return {
        f.name: AGGREGATIONS[f.aggregation].merge(left[f.name], right[f.name])
        for f in definition.aggregates
    }


def tile_updates(
    definition: ViewDefinition, rows: list[dict[str, Any]]
) -> dict[Slot, dict[str, State]]:
    """The batch's partial states per tile, ready to merge into the stored tiles."""
    updates: dict[Slot, dict[str, State]] = {}
    for row in rows:
        if definition.row_filter is not None and not definition.row_filter.passes(row):
            continue
        key, time_us = row_key(definition, row), row[definition.time_column]
        for size in TILE_SECONDS:
            slot = (key, size, tile_start(time_us, size))
            states = updates.get(slot) or empty_states(definition)
            updates[slot] = {
                f.name: AGGREGATIONS[f.aggregation].add(
                    states[f.name], column_value(f, row), time_us
                )
                for f in definition.aggregates
            }
    return updates


def store_tiles(view: View, updates: dict[Slot, dict[str, State]]) -> None:
    """Merge partial states into the view's tiles. The caller holds the view's row lock."""
    definition = view.aggregation_definition()
    existing = {
        (tile.entity_key, tile.size, tile.start): tile
        for tile in _tiles(view, {key for key, _, _ in updates}, set(updates))
    }
    tiles = []
    for slot, states in updates.items():
        tile = existing.get(slot)
        if tile is not None:
            states = merge_states(definition, tile.partials, states)
        tiles.append(
            Tile(
                view=view,
                entity_key=slot[0],
                size=slot[1],
                start=slot[2],
                states=json.dumps(states, separators=(",", ":")),
            )
        )
    # One upsert for new and changed tiles alike (an UPDATE per row, or Django's CASE-based
    # bulk_update, was most of the ingestion time).
    Tile.objects.bulk_create(
        tiles,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["view", "entity_key", "size", "start"],
        update_fields=["states"],
    )


def _tiles(view: View, keys: set[str], slots: set[Slot]) -> list[Tile]:
    """The stored tiles among `slots`, in queries of bounded size (a batch may touch
    thousands of tiles; databases cap the parameters of one statement)."""
    found: list[Tile] = []
    ordered = sorted(keys)
    for first in range(0, len(ordered), CHUNK):
        chunk = set(ordered[first : first + CHUNK])
        for size in TILE_SECONDS:
            starts = sorted({start for key, s, start in slots if s == size and key in chunk})
            for low in range(0, len(starts), CHUNK):
                found += Tile.objects.filter(
                    view=view,
                    entity_key__in=sorted(chunk),
                    size=size,
                    start__in=starts[low : low + CHUNK],
                )
    return [tile for tile in found if (tile.entity_key, tile.size, tile.start) in slots]


def read(view: View, entities: list[list[Any]], at_us: int | None = None) -> list[dict[str, Any]]:
    """Each entity's feature values as of `at_us` (default now), in the order given."""
    definition = view.aggregation_definition()
    at_us = to_micros(timezone.now()) if at_us is None else at_us
    end = window_end(at_us)
    keys = [entity_key(values) for values in entities]
    covers = {
        key: _covers(definition, end, first) for key, first in _first_tiles(view, keys).items()
    }
    slots = {
        (key, size, start)
        for key, windows in covers.items()
        for tiles in windows.values()
        for size, start in tiles
    }
    stored = {(t.entity_key, t.size, t.start): t.partials for t in _tiles(view, set(keys), slots)}
    return [
        finish_features(definition, _fold_tiles(definition, key, covers[key], stored))
        for key in keys
    ]


def _first_tiles(view: View, keys: list[str]) -> dict[str, int | None]:
    """Where each entity's lifetime starts: its first tile of the largest size."""
    firsts = dict.fromkeys(keys, None)
    found = (
        Tile.objects.filter(view=view, entity_key__in=sorted(set(keys)), size=TILE_SECONDS[0])
        .values("entity_key")
        .annotate(first=Min("start"))
    )
    firsts.update({row["entity_key"]: row["first"] for row in found})
    return firsts


def _covers(
    definition: ViewDefinition, end: int, first: int | None
) -> dict[int | None, list[tuple[int, int]]]:
    covers: dict[int | None, list[tuple[int, int]]] = {}
    for window in definition.windows():
        start = end - window if window is not None else first
        covers[window] = cover(start, end) if start is not None and start < end else []
    return covers


def _fold_tiles(
    definition: ViewDefinition,
    key: str,
    covers: dict[int | None, list[tuple[int, int]]],
    stored: dict[Slot, dict[str, State]],
) -> dict[str, State]:
    states = empty_states(definition)
    for feature in definition.aggregates:
        aggregation = AGGREGATIONS[feature.aggregation]
        for size, start in covers[feature.window_seconds]:
            tile = stored.get((key, size, start))
            if tile is not None:
                states[feature.name] = aggregation.merge(states[feature.name], tile[feature.name])
    return states


def freshness_seconds(view: View) -> float | None:
    """Age of the newest event applied to the view's tiles."""
    if view.newest_event_at is None:
        return None
    return (timezone.now() - view.newest_event_at).total_seconds()


__all__ = ["MICROS", "entity_key", "read", "store_tiles", "tile_updates"]
