"""Cron lines in a time zone: the instants they are due at, across daylight-saving changes.

A cron line names wall-clock times (`30 2 * * *`: half past two every day) in the
project's zone. Twice a year a wall-clock time does not map to one instant, and the rule
here is that each scheduled local time is due exactly once:

- in the spring gap (02:30 does not exist on the day clocks go forward) it is due at the
  first valid instant after it, the end of the gap (03:00 local); several skipped times
  are all due then, once;
- in the autumn's repeated hour (02:30 happens twice) it is due at its first occurrence.

Fields are read by Celery's crontab parser (ranges, steps, lists, names), with Celery's
meaning: a day must match both day-of-month and day-of-week. Plain Python, no Django.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from celery.schedules import crontab_parser

# Far enough for any line that can match (29 February on a given weekday repeats within
# 28 years); a line that matches no day in that span never will.
SEARCH_DAYS = 28 * 366


class CronError(ValueError):
    """The line is not five valid cron fields."""


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday, as in cron
    zone: ZoneInfo

    @classmethod
    def parse(cls, line: str, zone: str = "UTC") -> Cron:
        fields = line.split()
        if len(fields) != 5:
            raise CronError(f"{line!r} has {len(fields)} fields, not five.")
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        try:
            return cls(
                tuple(sorted(_values(minute, 60))),
                tuple(sorted(_values(hour, 24))),
                _values(day_of_month, 31, 1),
                _values(month_of_year, 12, 1),
                _values(day_of_week, 7),
                ZoneInfo(zone),
            )
        except ValueError as error:
            raise CronError(f"{line!r}: {error}") from None

    def next_after(self, moment: datetime) -> datetime | None:
        """The first instant (UTC) this line is due at, strictly after `moment`."""
        start = moment.astimezone(self.zone).date() - timedelta(days=1)
        for day in self._days(start, 1):
            for wall in self._walls(day):
                instant = self.instant(wall)
                if instant > moment:
                    return instant
        return None

    def last_at_or_before(self, moment: datetime) -> datetime | None:
        """The last instant (UTC) this line was due at, at `moment` or before it."""
        start = moment.astimezone(self.zone).date() + timedelta(days=1)
        for day in self._days(start, -1):
            for wall in reversed(self._walls(day)):
                instant = self.instant(wall)
                if instant <= moment:
                    return instant
        return None

    def instant(self, wall: datetime) -> datetime:
        """The instant (UTC) a wall-clock time of this zone is due at (the rules above)."""
        while not self._exists(wall):  # in the spring gap: on to its end
            wall += timedelta(minutes=1)
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def _exists(self, wall: datetime) -> bool:
        there = wall.replace(tzinfo=self.zone).astimezone(UTC).astimezone(self.zone)
        return there.replace(tzinfo=None) == wall

    def _days(self, start: date, step: int) -> Iterator[date]:
        for offset in range(SEARCH_DAYS):
            day = start + timedelta(days=offset * step)
            weekday = (day.weekday() + 1) % 7
            if (
                day.month in self.months
                and day.day in self.days_of_month
                and weekday in self.days_of_week
            ):
                yield day

    def _walls(self, day: date) -> list[datetime]:
        """The day's scheduled wall-clock times, in order (they map to instants in order)."""
        return [
            datetime.combine(day, time(hour, minute))
            for hour in self.hours
            for minute in self.minutes
        ]


def _values(field: str, size: int, first: int = 0) -> frozenset[int]:
    """The numbers a field names (`*/15`, `1-5`, `mon-fri`, `jan,jul`), each in range."""
    values = crontab_parser(size, first).parse(field)
    outside = sorted(v for v in values if not first <= v < first + size)
    if outside or not values:
        raise ValueError(f"{field!r} names {outside or 'nothing'}, not {first}-{first + size - 1}")
    return frozenset(values)
