"""Input types bounded by what the database stores, shared by every API schema.

A value the database cannot hold (an integer past its column, a datetime past year 9999
once in UTC, an offset PostgreSQL refuses) must be a 422 naming the field, not a 500 from
deep inside the ORM. Schemas use these instead of bare `int` and `datetime`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# PositiveIntegerField and IntegerField ids and counts.
Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
# BigAutoField primary keys.
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
# A version number in a path or body: AssetVersion.version is a PositiveIntegerField.
VersionNumber = Annotated[int, Field(ge=1, le=INT32_MAX)]
# SQL OFFSET takes a bigint.
Offset = Annotated[int, Field(ge=0, le=INT64_MAX, description="Items to skip")]
# Thresholds in days: past a century they mean "never", and they must stay small enough
# that `moment - days` is still a date.
Days = Annotated[int, Field(ge=0, le=36_500)]

# PostgreSQL refuses UTC offsets of 16 hours or more ("time zone displacement out of range").
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)


def storable(value: datetime) -> datetime:
    """The same instant in UTC, if the database can store it; ValueError (a 422) if not.

    A datetime without an offset is taken as UTC.
    """
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=UTC)
    if abs(offset) > MAX_UTC_OFFSET:
        raise ValueError(
            f"the UTC offset {value.isoformat()[19:]} is out of range; use one within ±15:59"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant lies outside years 1 to 9999 once in UTC") from None


StoredDatetime = Annotated[datetime, AfterValidator(storable)]
