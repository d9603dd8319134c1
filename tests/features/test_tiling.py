"""The column-wise tile states (features/tiling.py) are the states aggregations.py defines:
for random batches, each tile's finished values equal those of folding its events one by
one with `add`, and merging two batches' tiles equals tiling both at once."""

from __future__ import annotations

import json
import random
from typing import Any

import pyarrow as pa
import pytest

from modelyard.features.aggregations import (
    AGGREGATIONS,
    MICROS,
    TILE_SECONDS,
    Feature,
    RowFilter,
    ViewDefinition,
    exact_partials,
    fold_exact,
    tile_start,
)
from modelyard.features.tiling import entity_key, tile_updates

FEATURES = tuple(
    Feature(f"{aggregation}_{column}", aggregation, column)
    for aggregation, columns in {
        "count": [""],
        "sum": ["amount", "quantity"],
        "mean": ["amount"],
        "min": ["amount", "page", "flag"],
        "max": ["quantity", "page"],
        "last": ["page", "amount", "flag"],
        "distinct_count": ["page", "amount"],
    }.items()
    for column in columns
)
DEFINITION = ViewDefinition(("user_id", "page"), "ts", FEATURES)
FILTERED = ViewDefinition(("user_id",), "ts", FEATURES, RowFilter("quantity", ">=", 2))


def batch(generator: random.Random, count: int) -> list[dict[str, Any]]:
    base = 1_764_590_400 * MICROS
    return [
        {
            "user_id": generator.randrange(5),
            "page": generator.choice(["home", "cart", "é", "zebra"]),
            "amount": generator.choice(
                [0.1, 0.2, 0.3, 1e15, -1e15, 3.75, generator.uniform(-9, 9)]
            ),
            "quantity": generator.randrange(-3, 4),
            "flag": generator.random() < 0.5,
            "ts": base + generator.randrange(3 * 86400 * MICROS),
        }
        for _ in range(count)
    ]


def table(rows: list[dict[str, Any]]) -> pa.Table:
    types = {"user_id": pa.int64(), "page": pa.string(), "amount": pa.float64()}
    types |= {"quantity": pa.int64(), "flag": pa.bool_(), "ts": pa.int64()}
    return pa.table({name: pa.array([r[name] for r in rows], kind) for name, kind in types.items()})


def folded(definition: ViewDefinition, rows: list[dict[str, Any]]) -> dict[Any, Any]:
    """The reference: every event added to each of its tiles, one `add` at a time."""
    tiles: dict[Any, Any] = {}
    for row in rows:
        if definition.row_filter is not None and not definition.row_filter.passes(row):
            continue
        key = entity_key([row[column] for column in definition.keys])
        for size in TILE_SECONDS:
            slot = (key, size, tile_start(row["ts"], size))
            states = tiles.setdefault(
                slot, {n: AGGREGATIONS[f.aggregation].empty() for n, f in definition.states.items()}
            )
            for name, f in definition.states.items():
                value = row[f.column] if f.column else None
                states[name] = AGGREGATIONS[f.aggregation].add(states[name], value, row["ts"])
    return tiles


def finished(definition: ViewDefinition, tiles: dict[Any, Any]) -> str:
    return json.dumps(
        {
            str(slot): {
                n: AGGREGATIONS[f.aggregation].finish(s[n]) for n, f in definition.states.items()
            }
            for slot, s in sorted(tiles.items())
        }
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("definition", [DEFINITION, FILTERED], ids=["two-keys", "filtered"])
def test_column_wise_states_equal_the_fold(seed: int, definition: ViewDefinition) -> None:
    rows = batch(random.Random(seed), 400)

    assert finished(definition, tile_updates(definition, table(rows))) == finished(
        definition, folded(definition, rows)
    )


def test_merging_two_batches_equals_tiling_them_together() -> None:
    rows = batch(random.Random(9), 600)
    first, second = (
        tile_updates(DEFINITION, table(rows[:250])),
        tile_updates(DEFINITION, table(rows[250:])),
    )
    merged = dict(first)
    for slot, states in second.items():
        if slot in merged:
            merged[slot] = {
                n: AGGREGATIONS[f.aggregation].merge(merged[slot][n], states[n])
                for n, f in DEFINITION.states.items()
            }
        else:
            merged[slot] = states

    assert finished(DEFINITION, merged) == finished(
        DEFINITION, tile_updates(DEFINITION, table(rows))
    )


def test_exact_partials_sum_exactly_like_the_fold() -> None:
    generator = random.Random(3)
    for _ in range(200):
        values = [generator.choice([1e16, 1.0, -1e16, 0.1, 1e-300, 2.0**-60]) for _ in range(9)]
        partials = exact_partials(values)
        assert sum(abs(p) for p in partials) == 0 or all(partials)
        reference = fold_exact(values)
        # Equal exact sums: what is left of one after taking the other away is exactly 0.
        assert exact_partials([*partials, *(-p for p in reference)]) == []
