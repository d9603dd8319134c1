"""A scheduled time fires once: across both daylight-saving changes, in any zone, however
beat starts, restarts or overlaps. Beat's part is only to run `fire_schedules` every few
seconds; these tests do that by hand under a frozen clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from modelyard.jobs.cron import Cron, CronError
from modelyard.jobs.models import Firing
from modelyard.jobs.tasks import fire_schedules
from tests.jobs.conftest import spec

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TICK = timedelta(seconds=60)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def beat(start: datetime, end: datetime, every: timedelta = TICK) -> int:
    """A beat process running from start to end: fire_schedules at every tick."""
    fired, moment = 0, start
    with time_machine.travel(start, tick=False) as clock:
        while moment <= end:
            clock.move_to(moment)
            fired += fire_schedules()
            moment += every
    return fired


def fired_at() -> list[datetime]:
    return sorted(Firing.objects.values_list("scheduled_for", flat=True))


@pytest.fixture
def nightly(apply):
    """`30 2 * * *` in Berlin, applied on 24 October 2026 at noon."""

    def make(zone: str = "Europe/Berlin", line: str = "30 2 * * *", when: datetime | None = None):
        with time_machine.travel(when or at(2026, 10, 24, 10, 0), tick=False):
            apply(spec(f'nightly:\n  schedule: "{line}"\n', extra=f"timezone: {zone}\n"))

    return make


def test_a_normal_day_fires_once_at_the_local_time(nightly) -> None:
    nightly(when=at(2026, 11, 9, 12, 0))

    assert beat(at(2026, 11, 10, 0, 0), at(2026, 11, 10, 3, 0)) == 1

    assert fired_at() == [at(2026, 11, 10, 1, 30)]  # 02:30 CET


@pytest.mark.parametrize(
    "restart",
    [
        at(2026, 10, 25, 1, 5),  # 02:05 CET: django-celery-beat fired it every few ms from here on
        at(2026, 10, 25, 1, 40),  # 02:40 CET
        at(2026, 10, 25, 0, 35),  # 02:35 CEST, the first pass
    ],
)
def test_beat_started_inside_the_repeated_hour_fires_the_time_once(nightly, restart) -> None:
    """2026-10-25: Berlin's 02:00-03:00 happens twice (00:00-01:00 and 01:00-02:00 UTC).
    Beat stopped at 02:10 (first pass) and started again inside the repeated hour."""
    nightly()
    beat(at(2026, 10, 24, 22, 0), at(2026, 10, 25, 0, 10))  # up to 02:10 CEST

    restarted = beat(restart, at(2026, 10, 25, 4, 0))

    assert restarted == 1  # the missed 02:30, once
    assert fired_at() == [at(2026, 10, 25, 0, 30)]  # its first occurrence, 02:30 CEST
    assert beat(at(2026, 10, 25, 4, 0), at(2026, 10, 26, 3, 0)) == 1  # the next night
    assert fired_at()[-1] == at(2026, 10, 26, 1, 30)


def test_the_repeated_time_fires_once_while_beat_runs_through_it(nightly) -> None:
    nightly()

    assert beat(at(2026, 10, 24, 22, 0), at(2026, 10, 25, 4, 0)) == 1

    assert fired_at() == [at(2026, 10, 25, 0, 30)]


def test_restarts_and_a_second_beat_fire_nothing_twice(nightly) -> None:
    nightly()
    total = 0
    # Beat restarted every twenty minutes through the night, each time from a little before
    # where the last one stopped (clocks of two machines), and a second beat at once.
    for start in range(0, 300, 20):
        begin = at(2026, 10, 24, 23, 0) + timedelta(minutes=start)
        total += beat(begin - timedelta(minutes=5), begin + timedelta(minutes=20))
        total += beat(begin, begin + timedelta(minutes=20), every=timedelta(seconds=47))

    assert total == 1
    assert fired_at() == [at(2026, 10, 25, 0, 30)]


def test_a_time_in_the_spring_gap_fires_once_when_the_gap_ends(nightly) -> None:
    """2026-03-29: Berlin's clocks go from 02:00 to 03:00; 02:30 does not exist."""
    nightly(when=at(2026, 3, 28, 12, 0))

    assert beat(at(2026, 3, 28, 23, 0), at(2026, 3, 29, 3, 0)) == 1

    assert fired_at() == [at(2026, 3, 29, 1, 0)]  # 03:00 CEST, the first valid instant after


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ((2026, 11, 1), [at(2026, 11, 1, 5, 30)]),  # 01:30 EDT; 01:30 EST comes an hour later
        ((2026, 3, 8), [at(2026, 3, 8, 7, 0)]),  # 02:30 is skipped: 03:00 EDT
        ((2026, 6, 15), [at(2026, 6, 15, 5, 30)]),  # summer: 01:30 EDT
    ],
)
def test_new_york_fires_each_time_once(nightly, day, expected) -> None:
    line = "30 2 * * *" if day[1] == 3 else "30 1 * * *"
    start = datetime(*day, tzinfo=NEW_YORK)
    nightly(zone="America/New_York", line=line, when=start - timedelta(hours=1))

    assert beat(start, start + timedelta(hours=6)) == 1

    assert fired_at() == expected


def test_a_changed_schedule_is_due_from_its_next_time(nightly, apply) -> None:
    nightly(when=at(2026, 11, 9, 12, 0))
    with time_machine.travel(at(2026, 11, 9, 18, 0), tick=False):
        apply(spec('nightly:\n  schedule: "0 20 * * *"\n', extra="timezone: Europe/Berlin\n"))

    assert beat(at(2026, 11, 9, 18, 0), at(2026, 11, 10, 3, 0)) == 1
    assert fired_at() == [at(2026, 11, 9, 19, 0)]  # 20:00 CET; 02:30 no longer


def times(cron: Cron, start: datetime, count: int) -> Iterable[datetime]:
    moment = start
    for _ in range(count):
        found = cron.next_after(moment)
        assert found is not None
        yield found
        moment = found


def test_every_quarter_hour_across_the_autumn_change_fires_each_local_time_once() -> None:
    cron = Cron.parse("*/15 2 * * *", "Europe/Berlin")

    found = list(times(cron, at(2026, 10, 24, 12, 0), 5))

    local = [moment.astimezone(BERLIN).strftime("%d %H:%M %Z") for moment in found]
    assert local == [
        "25 02:00 CEST",
        "25 02:15 CEST",
        "25 02:30 CEST",
        "25 02:45 CEST",
        "26 02:00 CET",
    ]


def test_skipped_times_in_the_spring_gap_are_one_instant() -> None:
    cron = Cron.parse("*/15 2 * * *", "Europe/Berlin")

    found = list(times(cron, at(2026, 3, 28, 12, 0), 2))

    assert found == [at(2026, 3, 29, 1, 0), at(2026, 3, 30, 0, 0)]  # 03:00 CEST; 02:00 CEST
    assert cron.last_at_or_before(at(2026, 3, 29, 1, 30)) == at(2026, 3, 29, 1, 0)


def test_day_of_month_and_day_of_week_are_the_cron_fields_in_their_order() -> None:
    cron = Cron.parse("0 6 15 * 1-5", "UTC")  # the 15th, when it is a weekday

    assert cron.next_after(at(2026, 11, 1)) == at(2026, 12, 15, 6, 0)  # 15 Nov is a Sunday


def test_a_line_that_is_not_cron_is_refused() -> None:
    with pytest.raises(CronError, match="not five"):
        Cron.parse("0 6 * *")
    with pytest.raises(CronError):
        Cron.parse("0 25 * * *")
