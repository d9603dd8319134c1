"""The offline engine's SQL gives, bit for bit, what the Python fold of aggregations.py gives
(offline.values_at, which the online store is held to in test_online_equals_offline.py), on
random logs with every aggregation, column type, window edge and a sum too wide for 128-bit
integers (folded in Python instead)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.features import engine
from modelyard.features.aggregations import Feature, RowFilter, ViewDefinition
from modelyard.features.offline import index_events, micros_as_times, values_at
from modelyard.features.online import entity_key
from modelyard.lib.errors import InvalidInput

SCHEMA = {"user_id": "int", "amount": "float", "n": "int", "page": "string", "ok": "bool"}
TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
START_US = 1_780_000_000 * 1_000_000
SPAN_US = 3 * 86400 * 1_000_000
FEATURES = (
    Feature("n_1h", "count", "", 3600),
    Feature("n", "count"),
    Feature("spend_90m", "sum", "amount", 5400),
    Feature("spend", "sum", "amount"),
    Feature("ints_1d", "sum", "n", 86400),
    Feature("mean_1d", "mean", "amount", 86400),
    Feature("low_7d", "min", "amount", 7 * 86400),
    Feature("high_page", "max", "page"),
    Feature("latest_1d", "last", "amount", 86400),
    Feature("last_page", "last", "page"),
    Feature("last_ok", "last", "ok", 7200),
    Feature("pages_1d", "distinct_count", "page", 86400),
    Feature("amounts", "distinct_count", "amount"),
    Feature("share", ratio=("spend_90m", "n_1h")),
    Feature("per_int", ratio=("ints_1d", "n")),
)


def random_events(
    generator: random.Random, count: int, amounts: list[float]
) -> list[dict[str, Any]]:
    events = []
    for _ in range(count):
        time_us = START_US + generator.randrange(SPAN_US)
        if generator.random() < 0.3:  # on whole minutes: the windows' edges
            time_us -= time_us % 60_000_000
        events.append(
            {
                "user_id": generator.randrange(5),
                "amount": generator.choice([*amounts, generator.uniform(-50, 100)]),
                "n": generator.randrange(-3, 10),
                "page": generator.choice(["home", "cart", "checkout", "zé"]),
                "ok": generator.random() < 0.5,
                "ts": time_us,
            }
        )
    return events


def write_log(folder: Path, events: list[dict[str, Any]], files: int) -> list[Path]:
    """The events as a few Parquet files, timestamps typed as the log writes them."""
    schema = {**SCHEMA, "ts": "timestamp"}
    paths = []
    for number in range(files):
        part = events[number::files]
        arrays = [pa.array([row[c] for row in part], type=TYPES[k]) for c, k in schema.items()]
        path = folder / f"part-{number}.parquet"
        pq.write_table(pa.Table.from_arrays(arrays, names=list(schema)), path)
        paths.append(path)
    return paths


def engine_values(
    definition: ViewDefinition, files: list[Path], rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    names = [f.name for f in definition.features]
    view = engine.LogView(definition, files, {**SCHEMA, "ts": "timestamp"}, "v__", names)
    with engine.connect() as connection:
        connection.register("__entities", micros_as_times(pa.Table.from_pylist(rows), "timestamp"))
        engine.entity_rows_table(connection, "__entities", "timestamp")
        query, python = engine.features_sql(connection, view, "__rows")
        found = connection.execute(f"{query} ORDER BY {engine.ROW}").fetchall()
        columns = [d[0] for d in connection.description or []]
    values = [
        {k.removeprefix("v__"): v for k, v in zip(columns, row, strict=True) if k != engine.ROW}
        for row in found
    ]
    return values, python


def entity_rows(generator: random.Random, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [
        {"user_id": generator.randrange(6), "timestamp": START_US + generator.randrange(SPAN_US)}
        for _ in range(60)
    ]
    for event in generator.sample(events, 20):  # at an event's time and a window after it
        for later in (0, 3600, 5400, 86400):
            rows.append({"user_id": event["user_id"], "timestamp": event["ts"] + later * 10**6})
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_engine_equals_the_python_fold(seed: int, tmp_path: Path) -> None:
    generator = random.Random(seed)
    events = random_events(generator, 600, [0.5, 0.1, 0.2, 0.3, 1e15, 3.75, -0.0 + 0.0])
    row_filter = RowFilter("page", "!=", "cart") if seed % 2 else None
    definition = ViewDefinition(("user_id",), "ts", FEATURES, row_filter)
    rows = entity_rows(generator, events)

    found, python = engine_values(definition, write_log(tmp_path, events, 3), rows)

    assert python == []  # every feature computed by the engine itself
    index = index_events(definition, events)
    expected = [
        values_at(definition, index.get(entity_key([r["user_id"]])), r["timestamp"]) for r in rows
    ]
    mismatches = [
        (row, want, got)
        for row, want, got in zip(rows, expected, found, strict=True)
        if json.dumps(want, sort_keys=True) != json.dumps(got, sort_keys=True)
    ]
    assert mismatches == []
    assert sum(1 for values in found if values["n_1h"]) > 10  # not all empty


def test_sums_too_wide_for_128_bits_are_left_to_the_python_fold(tmp_path: Path) -> None:
    events = random_events(random.Random(7), 50, [1e-300, 1e300])
    definition = ViewDefinition(("user_id",), "ts", FEATURES)
    rows = entity_rows(random.Random(8), events)

    found, python = engine_values(definition, write_log(tmp_path, events, 1), rows)

    assert set(python) == {"spend_90m", "spend", "mean_1d", "share"}
    assert "spend" not in found[0]
    assert "n" in found[0]


def test_an_empty_log_gives_empty_features(tmp_path: Path) -> None:
    definition = ViewDefinition(("user_id",), "ts", FEATURES)
    found, _ = engine_values(definition, [], [{"user_id": 1, "timestamp": START_US}])
    assert (found[0]["n"], found[0]["spend"]) == (0, 0.0)
    assert (found[0]["mean_1d"], found[0]["last_page"]) == (None, None)


def test_exact_rounding_matches_fsum() -> None:
    generator = random.Random(3)
    with engine.connect() as connection:
        for _ in range(100):
            values = [
                generator.choice([0.1, 0.2, 0.3, 1e15, -1e15, 3.75, generator.uniform(-1e3, 1e3)])
                for _ in range(generator.randint(1, 20))
            ]
            scale = 53 - math.frexp(min(abs(v) for v in values))[1]
            exact = sum(int(math.ldexp(v, scale)) for v in values)
            got = connection.execute(
                f"SELECT __exact_double(CAST(? AS HUGEINT)) * pow(2.0, {-scale})", [str(exact)]
            ).fetchall()[0][0]
            assert got == math.fsum(values), values


def test_an_entity_row_without_a_time_is_refused_by_number() -> None:
    rows = pa.table({"user_id": [1, 2], "timestamp": ["2026-12-01T10:00:00", "soon"]})
    with engine.connect() as connection:
        connection.register("__entities", rows)
        with pytest.raises(InvalidInput, match=r"Entity row 1: .*'soon'"):
            engine.entity_rows_table(connection, "__entities", "timestamp")
