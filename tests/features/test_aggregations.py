"""The one definition of each aggregation: exact, order-free, and windows covered exactly."""

from __future__ import annotations

import itertools
import random

import pytest

from modelyard.features.aggregations import (
    AGGREGATIONS,
    MICROS,
    TILE_SECONDS,
    Feature,
    ViewDefinition,
    cover,
    finish_features,
    fold,
    window_end,
)

EVENTS = [(10, 3.0), (20, 1.5), (30, 3.0), (40, -2.0)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("count", 4),
        ("sum", 5.5),
        ("mean", 1.375),
        ("min", -2.0),
        ("max", 3.0),
        ("last", -2.0),
        ("distinct_count", 3),
    ],
)
def test_each_aggregation_folds_events(name: str, expected: float) -> None:
    aggregation = AGGREGATIONS[name]

    assert aggregation.finish(fold(aggregation, aggregation.empty(), EVENTS)) == expected


@pytest.mark.parametrize("name", sorted(AGGREGATIONS))
def test_merging_partial_states_in_any_order_gives_the_same_bits(name: str) -> None:
    generator = random.Random(7)
    events = [(generator.randrange(100), generator.uniform(-1e6, 1e6)) for _ in range(300)]
    events += [(50, 0.1), (50, 0.2)]  # a tie in time for `last`
    aggregation = AGGREGATIONS[name]
    whole = aggregation.finish(fold(aggregation, aggregation.empty(), events))

    for _ in range(5):
        generator.shuffle(events)
        cut = generator.randrange(len(events))
        left = fold(aggregation, aggregation.empty(), events[:cut])
        right = fold(aggregation, aggregation.empty(), events[cut:])
        assert aggregation.finish(aggregation.merge(right, left)) == whole


def test_sums_are_exact_where_plain_floats_lose_digits() -> None:
    values = [(0, 1e16), (0, 1.0), (0, -1e16), (0, 1.0)]
    total = AGGREGATIONS["sum"]

    assert total.finish(fold(total, total.empty(), values)) == 2.0


def test_empty_windows_give_zero_counts_and_no_values() -> None:
    definition = ViewDefinition(
        ("user_id",),
        "ts",
        (
            Feature("n", "count"),
            Feature("avg", "mean", "x"),
            Feature("last", "last", "x"),
            Feature("share", ratio=("n", "n")),
        ),
    )
    states = {f.name: AGGREGATIONS[f.aggregation].empty() for f in definition.aggregates}

    assert finish_features(definition, states) == {"n": 0, "avg": None, "last": None, "share": None}


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 60), (60, 7 * 86400 + 120), (3540, 90000), (86400 * 40 - 60, 86400 * 100 + 3600)],
)
def test_a_window_is_covered_by_aligned_tiles_exactly(start: int, end: int) -> None:
    tiles = cover(start, end)

    assert all(size in TILE_SECONDS and first % size == 0 for size, first in tiles)
    moments = [first for _, first in tiles]
    assert moments == sorted(moments)
    assert sum(size for size, _ in tiles) == end - start
    assert all(a + s == b for (s, a), (_, b) in itertools.pairwise(tiles))
    assert len(tiles) < 250  # a 100-day window is a few dozen tiles, not 144,000 minutes


def test_windows_end_at_the_last_whole_minute() -> None:
    assert window_end(125 * MICROS + 5) == 120
    assert window_end(120 * MICROS) == 120
