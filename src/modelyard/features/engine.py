"""The offline engine: point-in-time feature values over the raw event log, in DuckDB.

Each entity row becomes a marker in its entity's event stream at its window end (the row's
time rounded down to the minute, aggregations.window_end); every feature is then a window
aggregate over the events in `[end - window, end)` of the same entity, computed by DuckDB's
window operator (`RANGE BETWEEN w PRECEDING AND 1 PRECEDING` on microseconds), which sorts
out of core under a memory limit. benchmarks/features_offline.py measured this against a
pyarrow + Python fold of the same log (the fold is the reference, `offline.values_at`).

Every SQL aggregate below gives, bit for bit, what aggregations.py folds: count, min, max,
distinct count and `last` (max of (time, value): ties go to the larger value) are exact in
any engine; sums are computed exactly as 128-bit integers (each float scaled by one power
of two that makes every value of the column a whole number) and rounded to the nearest
double once, ties to even, as `math.fsum` does. A column whose values are too far apart in
magnitude for 128 bits is folded in Python instead (`exact_scale` returns None);
tests/features/test_engine.py holds the SQL to the Python fold on random data.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from modelyard import config
from modelyard.features.aggregations import MICROS, RESOLUTION, Feature, ViewDefinition
from modelyard.lib.errors import InvalidInput

ROW = "__row"  # the entity row's position, to keep the input's order
END = "__end_us"  # the entity row's window end, microseconds
MINUTE_US = RESOLUTION * MICROS
EXACT_BITS = 125  # headroom below HUGEINT's 127 bits for any window's exact sum

# Correct rounding of an exact HUGEINT to the nearest double, ties to even. DuckDB's own
# cast is within one unit in the last place; the remainder decides whether to step once.
MACROS = """
CREATE OR REPLACE MACRO __exact_fix(s, d, r, ulp) AS
  CASE WHEN 2 * abs(r) > ulp OR (2 * abs(r) = ulp AND (CAST(d AS HUGEINT) // ulp) % 2 != 0)
       THEN nextafter(d, CASE WHEN r > 0 THEN 'inf'::DOUBLE ELSE '-inf'::DOUBLE END)
       ELSE d END;
CREATE OR REPLACE MACRO __exact_step(s, d) AS
  CASE WHEN abs(d) < 9007199254740992.0 OR s = CAST(d AS HUGEINT) THEN d
       ELSE __exact_fix(s, d, s - CAST(d AS HUGEINT), CAST(abs(nextafter(d,
            CASE WHEN s > CAST(d AS HUGEINT) THEN 'inf'::DOUBLE ELSE '-inf'::DOUBLE END)
            - d) AS HUGEINT)) END;
CREATE OR REPLACE MACRO __exact_double(s) AS __exact_step(s, CAST(s AS DOUBLE));
"""


@contextlib.contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory DuckDB that spills to a temporary folder past its memory limit.

    Time zones are UTC throughout (DuckDB's default without its ICU extension, which a
    machine without internet access cannot load)."""
    with tempfile.TemporaryDirectory(prefix="modelyard-features-") as spill:
        connection = duckdb.connect(
            config={
                "memory_limit": f"{config.features_engine_memory_mb()}MB",
                "temp_directory": spill,
                "threads": config.features_engine_threads(),
                "preserve_insertion_order": False,
            }
        )
        try:
            connection.execute(MACROS)
            yield connection
        finally:
            connection.close()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class LogView:
    """One view to compute: its definition, the log's Parquet files, the source schema."""

    definition: ViewDefinition
    files: list[Path]
    schema: dict[str, str]
    prefix: str  # output columns are `prefix + feature name`
    features: list[str]  # the features wanted (aggregates and ratios), in order


def events_sql(view: LogView) -> tuple[str, list[Any]]:
    """The log's events that pass the view's filter: keys, time in microseconds, values."""
    definition = view.definition
    columns = {f.column for f in definition.aggregates if f.column}
    select = [quote(k) for k in definition.keys]
    select.append(f"epoch_us({quote(definition.time_column)}) AS __t")
    select += [_plain_column(name, view.schema[name]) for name in sorted(columns)]
    sql = f"SELECT {', '.join(select)} FROM {_log_relation(view)}"
    parameters: list[Any] = []
    if definition.row_filter is not None:
        column, op, literal = (
            definition.row_filter.column,
            definition.row_filter.op,
            definition.row_filter.literal,
        )
        op = "=" if op == "==" else op
        value = (
            f"epoch_us({quote(column)})" if view.schema[column] == "timestamp" else quote(column)
        )
        sql += f" WHERE {value} {op} ?"
        parameters.append(literal)
    return sql, parameters


def _plain_column(name: str, kind: str) -> str:
    """Timestamps as microseconds, as the Python fold sees them (offline._plain)."""
    return f"epoch_us({quote(name)}) AS {quote(name)}" if kind == "timestamp" else quote(name)


def quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


SQL_TYPES = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}


def _log_relation(view: LogView) -> str:
    """The log's files, or an empty relation of the source's columns when it has none."""
    if view.files:
        paths = ", ".join(quote_path(path) for path in view.files)
        return f"read_parquet([{paths}], union_by_name = true)"
    columns = ", ".join(f"NULL::{SQL_TYPES[k]} AS {quote(c)}" for c, k in view.schema.items())
    return f"(SELECT {columns} WHERE false)"


def exact_scale(
    connection: duckdb.DuckDBPyConnection, events: str, parameters: list[Any], column: str
) -> int | None:
    """The power of two that makes every value of `column` a whole number whose window sums
    fit in 128 bits; None when no such power exists (then the sum is folded in Python)."""
    smallest, total = connection.execute(
        f"SELECT min(abs({quote(column)})) FILTER (WHERE {quote(column)} != 0), "
        f"sum(abs(CAST({quote(column)} AS DOUBLE))) FROM ({events})",
        parameters,
    ).fetchall()[0]
    if smallest is None:
        return 0  # no events, or all zeros: every sum is exact
    # The smallest value's exponent bounds every value's last significant bit from below.
    scale = 53 - math.frexp(float(smallest))[1]
    if not -1000 <= scale <= 1000 or math.ldexp(float(total), scale) >= 2.0**EXACT_BITS:
        return None
    return scale


def aggregate_sql(feature: Feature, window: str, scale: int | None) -> str:
    """The window aggregate giving exactly what aggregations.py folds for `feature`."""
    column = quote(feature.column) if feature.column else ""
    match feature.aggregation:
        case "count":
            return f"count(__event) OVER {window}"
        case "min" | "max":
            return f"{feature.aggregation}({column}) OVER {window}"
        case "last":
            # Markers (entity rows) carry no value: a NULL pair, which max ignores.
            pair = f"CASE WHEN __event IS NOT NULL THEN {{'t': __t, 'v': {column}}} END"
            return f"(max({pair}) OVER {window}).v"
        case "distinct_count":
            return f"count(DISTINCT {column}) OVER {window}"
        case "sum":
            return f"coalesce({_exact_sum(column, window, scale)}, 0.0)"
        case "mean":
            total = _exact_sum(column, window, scale)
            return f"{total} / CAST(nullif(count({column}) OVER {window}, 0) AS DOUBLE)"
    raise ValueError(f"no SQL for aggregation {feature.aggregation!r}")


def _exact_sum(column: str, window: str, scale: int | None) -> str:
    if scale is None:
        raise ValueError("sum without an exact scale")
    scaled = f"CAST({column} * pow(2.0, {scale}) AS HUGEINT)"
    return f"(__exact_double(sum({scaled}) OVER {window}) * pow(2.0, {-scale}))"


def window_clause(definition: ViewDefinition, window_seconds: int | None) -> str:
    keys = ", ".join(quote(k) for k in definition.keys)
    low = "UNBOUNDED" if window_seconds is None else str(window_seconds * MICROS)
    return f"(PARTITION BY {keys} ORDER BY __t RANGE BETWEEN {low} PRECEDING AND 1 PRECEDING)"


def ratio_sql(feature: Feature, prefix: str) -> str:
    numerator, denominator = (quote(prefix + name) for name in feature.ratio or ())
    return (
        f"CASE WHEN {numerator} IS NULL OR {denominator} IS NULL OR {denominator} = 0 "
        f"THEN NULL ELSE CAST({numerator} AS DOUBLE) / CAST({denominator} AS DOUBLE) END"
    )


def features_sql(
    connection: duckdb.DuckDBPyConnection, view: LogView, rows: str
) -> tuple[str, list[Any], list[str]]:
    """SELECT of `ROW` and the wanted features of `view` for every row of table `rows`
    (columns ROW, END and the view's keys); also the features that need the Python fold."""
    definition = view.definition
    events, parameters = events_sql(view)
    by_name = {f.name: f for f in definition.features}
    wanted = set(view.features)
    for feature in definition.features:
        if feature.name in wanted and feature.ratio is not None:
            wanted |= set(feature.ratio)
    aggregates = [f for f in definition.aggregates if f.name in wanted]
    columns = sorted({f.column for f in aggregates if f.column})
    keys = [quote(k) for k in definition.keys]
    scales = {
        f.name: exact_scale(connection, events, parameters, f.column)
        for f in aggregates
        if f.aggregation in ("sum", "mean")
    }
    unexact = [name for name, scale in scales.items() if scale is None]
    markers = ", ".join(
        [*keys, f"{END} AS __t", f"{ROW}", "NULL::INTEGER AS __event"]
        + [f"NULL AS {quote(c)}" for c in columns]
    )
    stream = (
        f"SELECT {', '.join(keys)}, __t, NULL::BIGINT AS {ROW}, 1 AS __event"
        + "".join(f", {quote(c)}" for c in columns)
        + f" FROM ({events}) UNION ALL BY NAME SELECT {markers} FROM {rows}"
    )
    computed = [
        f"{aggregate_sql(f, window_clause(definition, f.window_seconds), scales.get(f.name))}"
        f" AS {quote(view.prefix + f.name)}"
        for f in aggregates
        if f.name not in unexact
    ]
    windowed = f"SELECT {ROW}, {', '.join(computed) or 'NULL AS __none'} FROM ({stream})"
    outputs = []
    for name in view.features:
        feature = by_name[name]
        if feature.name in unexact:
            continue
        if feature.ratio is not None and not set(feature.ratio) & set(unexact):
            outputs.append(f"{ratio_sql(feature, view.prefix)} AS {quote(view.prefix + name)}")
        elif feature.ratio is None:
            outputs.append(quote(view.prefix + name))
    select = f"SELECT {ROW}{''.join(', ' + o for o in outputs)} FROM ({windowed}) "
    select += f"WHERE {ROW} IS NOT NULL"
    python = [
        name
        for name in view.features
        if name in unexact or set(by_name[name].ratio or ()) & set(unexact)
    ]
    return select, parameters, python


def entity_rows_table(connection: duckdb.DuckDBPyConnection, source: str, time_column: str) -> None:
    """Table `__rows`: the entity rows of relation `source` with ROW and END added; a row
    whose time is missing or not a time is refused, naming it."""
    time_us = _time_us(connection, source, time_column)
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE __rows AS SELECT *, {time_us} AS __time_us, "
        f"row_number() OVER () - 1 AS {ROW} FROM {source}"
    )
    bad = connection.execute(
        f"SELECT {ROW}, CAST({quote(time_column)} AS VARCHAR) FROM __rows "
        f"WHERE __time_us IS NULL ORDER BY {ROW} LIMIT 1"
    ).fetchall()
    if bad:
        raise InvalidInput(
            f"Entity row {bad[0][0]}: field {time_column!r}: {bad[0][1]!r} is not a valid "
            "timestamp; give ISO 8601 times (UTC when no offset) or seconds since the epoch."
        )
    connection.execute(
        f"ALTER TABLE __rows ADD COLUMN {END} BIGINT; "
        f"UPDATE __rows SET {END} = __time_us - ((__time_us % {MINUTE_US}) + {MINUTE_US}) "
        f"% {MINUTE_US}"
    )


def _time_us(connection: duckdb.DuckDBPyConnection, source: str, column: str) -> str:
    kinds = dict(
        connection.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {source})"
        ).fetchall()
    )
    kind = str(kinds[column]).upper()
    name = quote(column)
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"epoch_us(CAST({name} AS TIMESTAMPTZ))"
    if kind in ("BIGINT", "INTEGER", "DOUBLE", "FLOAT", "HUGEINT", "SMALLINT") or kind.startswith(
        "DECIMAL"
    ):
        return f"CAST(round_even(CAST({name} AS DOUBLE) * {MICROS}, 0) AS BIGINT)"
    return f"epoch_us(TRY_CAST({name} AS TIMESTAMPTZ))"
