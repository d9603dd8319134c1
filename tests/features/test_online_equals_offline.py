"""The heart of the feature store: for any entity and time T, the online store answers what
the training set gives at T. Random events stream in out of order, late within the
lateness, some too late (refused) and some sent twice; then online and offline are compared
on random entities and times: no mismatch allowed, not even in the last bit of a float."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
import time_machine

from modelyard.features import offline, online, services
from modelyard.features.validation import from_micros, to_micros
from modelyard.lib.errors import Unprocessable
from tests.features.conftest import project

pytestmark = pytest.mark.django_db

FEATURES = """\
features:
  entities:
    shopper: [user_id, category]
  sources:
    orders:
      entity: shopper
      event_time: ts
      lateness: 3h
      schema: {event_id: int, user_id: int, category: string, amount: float, ts: timestamp}
  views:
    shopping:
      source: orders
      filter: amount >= 1.0
      features:
        n_1h: {agg: count, window: 1h}
        spend_90m: {agg: sum, column: amount, window: 90m}
        mean_1d: {agg: mean, column: amount, window: 1d}
        low_7d: {agg: min, column: amount, window: 7d}
        high: {agg: max, column: amount}
        latest: {agg: last, column: amount, window: 2d}
        amounts_1d: {agg: distinct_count, column: amount, window: 1d}
        spend_share: {ratio: [spend_90m, high]}
"""
START = datetime(2026, 11, 20, tzinfo=UTC)
SPAN = timedelta(days=3)
USERS = [(user, category) for user in range(4) for category in ("books", "games")]


def make_events(generator: random.Random, count: int) -> list[tuple[datetime, dict[str, Any]]]:
    """(arrival time, event): out of order, late, too late, and resent."""
    arrivals = []
    for event_id in range(count):
        user, category = generator.choice(USERS)
        happened = START + SPAN * generator.random()
        if generator.random() < 0.3:  # on a whole minute: where windows start and end
            happened = happened.replace(second=0, microsecond=0)
        # Amounts from a small set with repeats (distinct counts, ties for `last`) and
        # awkward floats (exact sums); some below the filter.
        amount = generator.choice([0.5, 1.0, 0.1, 0.2, 0.3, 1e15, 3.75, generator.uniform(0, 100)])
        event = {
            "event_id": event_id,
            "user_id": user,
            "category": category,
            "amount": amount,
            "ts": happened.isoformat(),
        }
        delay = timedelta(minutes=generator.choice([0, 0, 1, 5, 30, 119]))
        if generator.random() < 0.03:
            delay = timedelta(hours=4)  # past the 3h lateness: refused
        arrivals.append((happened + delay, event))
        if generator.random() < 0.1:  # the same event again, later
            arrivals.append((happened + delay + timedelta(minutes=generator.randrange(60)), event))
    return sorted(arrivals, key=lambda pair: pair[0])


def stream(
    source: Any, arrivals: list[tuple[datetime, dict[str, Any]]], generator: random.Random
) -> tuple[int, int]:
    """Push the events in batches of neighbours in arrival time; the count accepted, refused."""
    accepted = refused = 0
    index = 0
    while index < len(arrivals):
        first = arrivals[index][0]
        batch = []
        while (
            index < len(arrivals)
            and len(batch) < generator.randint(1, 8)
            and arrivals[index][0] - first < timedelta(minutes=30)
        ):
            batch.append(arrivals[index][1])
            index += 1
        with time_machine.travel(max(first, arrivals[index - 1][0]), tick=False):
            try:
                accepted += services.ingest("test", source, batch).accepted
            except Unprocessable:
                refused += 1
                late = [
                    e
                    for e in batch
                    if datetime.fromisoformat(e["ts"]) < arrivals[index - 1][0] - timedelta(hours=3)
                ]
                assert late, "only batches with an event past the lateness are refused"
                kept = [e for e in batch if e not in late]
                if kept:
                    accepted += services.ingest("test", source, kept).accepted
    return accepted, refused


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.integration)])
def online_store(request: pytest.FixtureRequest, settings: Any) -> str:
    """Each online backend in turn: the database's tiles, and Redis (a real server)."""
    if request.param == "redis":
        settings.FEATURES_ONLINE_STORE = request.getfixturevalue("clean_redis")
    return str(request.param)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_online_equals_offline_on_random_entities_and_times(
    seed: int, online_store: str, applied: Any
) -> None:
    generator = random.Random(seed)
    view = applied(project(FEATURES))["shopping"]
    arrivals = make_events(generator, 400)
    accepted, refused = stream(view.source, arrivals, generator)
    assert accepted > 300
    assert refused > 0

    times = [
        START - timedelta(hours=1) + (SPAN + timedelta(days=2)) * generator.random()
        for _ in range(60)
    ]
    times += [
        START + timedelta(minutes=generator.randrange(3 * 1440)) for _ in range(20)
    ]  # on a minute
    rows = [
        {"user_id": u, "category": c, "timestamp": t}
        for t in times
        for u, c in [generator.choice(USERS)]
    ]
    # At an event's own time, and a window's length after it: the windows' two edges.
    for _, event in generator.sample(arrivals, 30):
        happened = datetime.fromisoformat(event["ts"])
        for later in (timedelta(0), timedelta(hours=1), timedelta(minutes=90)):
            entity = {"user_id": event["user_id"], "category": event["category"]}
            rows.append({**entity, "timestamp": happened + later})
    table = offline.training_table(
        pa.Table.from_pylist(rows), "timestamp", services.selections("red/shopping")
    )

    mismatches = []
    for row in table.to_pylist():
        at = to_micros(row["timestamp"])
        online_values = online.read(view, [[row["user_id"], row["category"]]], at_us=at)[0]
        offline_values = {
            k.removeprefix("shopping__"): v for k, v in row.items() if k.startswith("shopping__")
        }
        # As JSON text: 1e15 and 1000000000000000 are equal numbers but different answers.
        if json.dumps(online_values) != json.dumps(offline_values):
            mismatches.append(
                (row["user_id"], row["category"], from_micros(at), online_values, offline_values)
            )
    assert mismatches == []
    assert sum(1 for row in table.to_pylist() if row["shopping__n_1h"]) > 5  # not all empty
