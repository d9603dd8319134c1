"""Raw events checked against their source's declared schema, every row before any is kept.

A row is a JSON object with exactly the schema's columns, none null. Timestamps are ISO 8601
strings (no offset means UTC) or seconds since the epoch, and become whole microseconds
since the epoch. The first bad row refuses the batch, naming the row and the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelyard.features.aggregations import MICROS
from modelyard.lib.errors import Unprocessable

MAX_STRING = 1000
MAX_KEY = 100  # characters of a string entity key
INT64 = 2**63 - 1


class RowError(ValueError):
    pass


def check_rows(rows: Any, schema: dict[str, str], keys: list[str]) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise Unprocessable("Send a JSON list of event objects, or NDJSON (one object a line).")
    checked = []
    for index, row in enumerate(rows):
        try:
            checked.append(check_row(row, schema, keys))
        except RowError as error:
            raise Unprocessable(
                f"Row {index}: {error} Nothing in this batch was ingested; fix the row and "
                "send the batch again.",
                row=index,
            ) from None
    return checked


def check_row(row: Any, schema: dict[str, str], keys: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise RowError("is not a JSON object.")
    unknown = sorted(set(row) - set(schema))
    if unknown:
        raise RowError(f"field {unknown[0]!r} is not in the source's schema ({', '.join(schema)}).")
    checked = {column: _value(row, column, kind) for column, kind in schema.items()}
    for key in keys:
        if isinstance(checked[key], str) and len(checked[key]) > MAX_KEY:
            raise RowError(f"field {key!r} is an entity key longer than {MAX_KEY} characters.")
    return checked


def _value(row: dict[str, Any], column: str, kind: str) -> Any:
    if row.get(column) is None:
        raise RowError(f"field {column!r} is missing or null; every declared column is required.")
    value = row[column]
    try:
        return CHECKS[kind](value)
    except (TypeError, ValueError, OverflowError):
        raise RowError(f"field {column!r}: {value!r} is not a valid {kind}.") from None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > INT64:
        raise TypeError
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError
    return float(value) + 0.0  # -0.0 becomes 0.0: min and max must not depend on order


def _string(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_STRING:
        raise TypeError
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _timestamp(value: Any) -> int:
    """Whole microseconds since the epoch."""
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError
        return round(value * MICROS)
    if not isinstance(value, str):
        raise TypeError
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return to_micros(moment)


def parse_timestamp(value: Any, column: str) -> int:
    """A time (ISO 8601 text, seconds since the epoch, or a datetime; UTC when it has no
    offset) as microseconds since the epoch; RowError naming `column` if it is not one."""
    if isinstance(value, datetime):
        return to_micros(value if value.utcoffset() is not None else value.replace(tzinfo=UTC))
    return int(_value({column: value}, column, "timestamp"))


def to_micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * MICROS + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // MICROS, UTC).replace(microsecond=micros % MICROS)


CHECKS = {"int": _int, "float": _float, "string": _string, "bool": _bool, "timestamp": _timestamp}
