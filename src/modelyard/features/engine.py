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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

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


def events_sql(view: LogView) -> str:
    """The log's events that pass the view's filter: keys, time in microseconds, values."""
    definition = view.definition
    columns = {f.column for f in definition.aggregates if f.column}
    select = [quote(k) for k in definition.keys]
    select.append(f"epoch_us({quote(definition.time_column)}) AS __t")
    select += [_plain_column(name, view.schema[name]) for name in sorted(columns)]
    sql = f"SELECT {', '.join(select)} FROM {_log_relation(view)}"
    row_filter = definition.row_filter
    if row_filter is not None:
        op = "=" if row_filter.op == "==" else row_filter.op
        sql += f" WHERE {quote(row_filter.column)} {op} {sql_literal(row_filter.literal)}"
    return sql


def sql_literal(value: Any) -> str:
    """A filter's value (spec.py parsed it as a bool, int, float or string) as SQL: the
    events query is used more than once, so it is written out rather than bound."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"CAST({int(value)} AS BIGINT)"
    if isinstance(value, float):
        return f"CAST('{float(value)!r}' AS DOUBLE)"
    return "'" + str(value).replace("'", "''") + "'"


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
    return f"(SELECT {empty_columns(view.schema)} WHERE false)"


def empty_columns(schema: dict[str, str]) -> str:
    """A source's columns as typed NULLs, for a log that has no file yet."""
    return ", ".join(f"NULL::{SQL_TYPES[k]} AS {quote(c)}" for c, k in schema.items())


def exact_scale(connection: duckdb.DuckDBPyConnection, events: str, column: str) -> int | None:
    """The power of two that makes every value of `column` a whole number whose window sums
    fit in 128 bits; None when no such power exists (then the sum is folded in Python)."""
    smallest, total = connection.execute(
        f"SELECT min(abs({quote(column)})) FILTER (WHERE {quote(column)} != 0), "
        f"sum(abs(CAST({quote(column)} AS DOUBLE))) FROM ({events})"
    ).fetchall()[0]
    if smallest is None:
        return 0  # no events, or all zeros: every sum is exact
    # The smallest value's exponent bounds every value's last significant bit from below.
    scale = 53 - math.frexp(float(smallest))[1]
    if not -1000 <= scale <= 1000 or math.ldexp(float(total), scale) >= 2.0**EXACT_BITS:
        return None
    return scale


def aggregate_sql(feature: Feature, window: str) -> str:
    """The window aggregate giving exactly what aggregations.py folds for `feature` (counts,
    sums and means come from running totals instead: _from_totals)."""
    column = quote(feature.column) if feature.column else ""
    match feature.aggregation:
        case "min" | "max":
            return f"{feature.aggregation}({column}) OVER {window}"
        case "last":
            # Markers (entity rows) carry no value: a NULL pair, which max ignores.
            pair = f"CASE WHEN __event IS NOT NULL THEN {{'t': __t, 'v': {column}}} END"
            return f"(max({pair}) OVER {window}).v"
        case "distinct_count":
            return f"count(DISTINCT {column}) OVER {window}"
    raise ValueError(f"no framed SQL for aggregation {feature.aggregation!r}")


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


PREFIX_SUMS = ("count", "sum", "mean")  # differences of running totals, exact as integers
RUNNING = ("min", "max", "last")  # over a lifetime: running values


def features_sql(
    connection: duckdb.DuckDBPyConnection, view: LogView, rows: str
) -> tuple[str, list[str]]:
    """SELECT of `ROW` and the wanted features of `view` for every row of table `rows`
    (columns ROW, END and the view's keys); also the features that need the Python fold.

    Counts, sums and means are differences of running totals taken at the window's end and
    start (one ordered pass whatever the windows); lifetime min, max and last are running
    values; the rest are framed window aggregates."""
    definition = view.definition
    events = events_sql(view)
    by_name = {f.name: f for f in definition.features}
    wanted = set(view.features)
    for feature in definition.features:
        if feature.name in wanted and feature.ratio is not None:
            wanted |= set(feature.ratio)
    aggregates = [f for f in definition.aggregates if f.name in wanted]
    summed = sorted({f.column for f in aggregates if f.aggregation in ("sum", "mean")})
    scales = {c: exact_scale(connection, events, c) for c in summed}
    unexact = [
        f.name for f in aggregates if f.aggregation in ("sum", "mean") and scales[f.column] is None
    ]
    running = [f for f in aggregates if _running(f) and f.name not in unexact]
    framed = [f for f in aggregates if not _running(f)]
    parts = []
    if running:
        parts.append(_running_sql(view, events, rows, running, scales))
    if framed:
        parts.append(_framed_sql(view, events, rows, framed))
    joined = parts[0] if parts else f"(SELECT {ROW} FROM {rows})"
    for part in parts[1:]:
        joined = f"{joined} JOIN {part} USING ({ROW})"
    outputs = []
    for name in view.features:
        feature = by_name[name]
        if feature.ratio is not None and not set(feature.ratio) & set(unexact):
            outputs.append(f"{ratio_sql(feature, view.prefix)} AS {quote(view.prefix + name)}")
        elif feature.ratio is None and name not in unexact:
            outputs.append(quote(view.prefix + name))
    select = f"SELECT {ROW}{''.join(', ' + o for o in outputs)} FROM {joined}"
    python = [
        name
        for name in view.features
        if name in unexact or set(by_name[name].ratio or ()) & set(unexact)
    ]
    return select, python


def _running(feature: Feature) -> bool:
    return feature.aggregation in PREFIX_SUMS or (
        feature.aggregation in RUNNING and feature.window_seconds is None
    )


def _stream(view: LogView, events: str, markers: str) -> str:
    """The view's events and the entity rows' markers, in one relation."""
    definition = view.definition
    columns = sorted({f.column for f in definition.aggregates if f.column})
    keys = ", ".join(quote(k) for k in definition.keys)
    return (
        f"SELECT {keys}, __t, NULL::BIGINT AS {ROW}, NULL::BIGINT AS __w, 1 AS __event"
        + "".join(f", {quote(c)}" for c in columns)
        + f" FROM ({events}) UNION ALL BY NAME SELECT * FROM ({markers})"
    )


def _running_sql(
    view: LogView, events: str, rows: str, features: list[Feature], scales: dict[str, int | None]
) -> str:
    """Running totals at a marker at each window's end (__w = 0) and start (__w = window):
    markers sort before events of the same time, so each sees only earlier events."""
    definition = view.definition
    keys = ", ".join(quote(k) for k in definition.keys)
    windows = sorted({f.window_seconds for f in features if f.window_seconds is not None})
    markers = " UNION ALL ".join(
        f"SELECT {keys}, {END} - {w * MICROS} AS __t, {ROW}, {w} AS __w FROM {rows}"
        for w in [0, *windows]
    )
    order = f"(PARTITION BY {keys} ORDER BY __t, __event NULLS FIRST ROWS UNBOUNDED PRECEDING)"
    totals = {"__n": f"count(__event) OVER {order}"}
    for column, scale in scales.items():
        if scale is not None:
            scaled = f"CAST({quote(column)} * pow(2.0, {scale}) AS HUGEINT)"
            totals[f"__s_{column}"] = f"coalesce(sum({scaled}) OVER {order}, 0)"
    for feature in features:
        if feature.aggregation in RUNNING:
            totals[f"__r_{feature.name}"] = aggregate_sql(feature, order)
    select = ", ".join(f"{sql} AS {quote(name)}" for name, sql in totals.items())
    running = (
        f"SELECT {ROW}, __w, {select} FROM ({_stream(view, events, markers)}) "
        f"QUALIFY {ROW} IS NOT NULL"
    )
    pivot = ", ".join(
        f"any_value({quote(name)}) FILTER (WHERE __w = {w}) AS {quote(f'{name}@{w}')}"
        for name in totals
        for w in [0, *windows]
    )
    values = ", ".join(
        f"{_from_totals(f, scales)} AS {quote(view.prefix + f.name)}" for f in features
    )
    return f"(SELECT {ROW}, {values} FROM (SELECT {ROW}, {pivot} FROM ({running}) GROUP BY {ROW}))"


def _from_totals(feature: Feature, scales: dict[str, int | None]) -> str:
    """A feature from the running totals at its window's end and start."""
    if feature.aggregation in RUNNING:
        return quote(f"__r_{feature.name}@0")
    window = feature.window_seconds

    def difference(name: str) -> str:
        end = quote(f"{name}@0")
        return end if window is None else f"({end} - {quote(f'{name}@{window}')})"

    if feature.aggregation == "count":
        return difference("__n")
    scale = scales[feature.column]
    total = f"(__exact_double({difference(f'__s_{feature.column}')}) * pow(2.0, {-(scale or 0)}))"
    if feature.aggregation == "sum":
        return total
    return f"{total} / CAST(nullif({difference('__n')}, 0) AS DOUBLE)"


def _framed_sql(view: LogView, events: str, rows: str, features: list[Feature]) -> str:
    """Window aggregates over each marker's frame [end - window, end)."""
    definition = view.definition
    keys = ", ".join(quote(k) for k in definition.keys)
    markers = f"SELECT {keys}, {END} AS __t, {ROW} FROM {rows}"
    computed = ", ".join(
        f"{aggregate_sql(f, window_clause(definition, f.window_seconds))} "
        f"AS {quote(view.prefix + f.name)}"
        for f in features
    )
    return (
        f"(SELECT {ROW}, {computed} FROM ({_stream(view, events, markers)}) "
        f"QUALIFY {ROW} IS NOT NULL)"
    )


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


# Rows (ROW and the named features, prefixed) folded in Python for features the engine
# cannot compute exactly, given the entity rows' table and the view.
Fold = Callable[[str, LogView, list[str]], list[dict[str, Any]]]


def training_query(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    time_column: str,
    views: list[LogView],
    fold: Fold | None = None,
) -> str:
    """SELECT of relation `source`'s rows, in their order, with each view's features as of
    the row's time (`time_column`, returned as a UTC timestamp) added."""
    columns = [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    if time_column not in columns:
        raise InvalidInput(
            f"The entity file has no column {time_column!r} (it has "
            f"{', '.join(columns)}); name the time column with --time-column."
        )
    entity_rows_table(connection, source, time_column)
    joins, outputs = [], []
    for number, view in enumerate(views):
        table = f"__features_{number}"
        query, python = features_sql(connection, view, "__rows")
        connection.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {query}")
        if python:
            _add_folded(connection, table, view, python, fold)
        joins.append(f"LEFT JOIN {table} USING ({ROW})")
        outputs += [quote(view.prefix + name) for name in view.features]
    time_out = f"CAST(make_timestamp(__time_us) AS TIMESTAMPTZ) AS {quote(time_column)}"
    return (
        f"SELECT __rows.* EXCLUDE ({ROW}, {END}, __time_us) REPLACE ({time_out}), "
        f"{', '.join(outputs)} FROM __rows {' '.join(joins)} ORDER BY __rows.{ROW}"
    )


def _add_folded(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    view: LogView,
    names: list[str],
    fold: Fold | None,
) -> None:
    if fold is None:
        raise InvalidInput(
            f"Features {', '.join(names)} sum values too far apart in magnitude to be summed "
            "exactly here; build this training set through modelyard (offline.py)."
        )
    folded = fold("__rows", view, names)
    if not folded:
        return
    connection.register("__folded", pa.Table.from_pylist(folded))
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table} JOIN __folded USING ({ROW})"
    )
    connection.unregister("__folded")
