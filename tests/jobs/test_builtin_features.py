"""The feature store's background work as jobs: `compact_features` runs as a run of the
project's team, under the caps, merges the raw event log's day files and reports days as
progress; `backfill_features` rebuilds a view's online store from the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from modelyard import storage
from modelyard.features import offline, online
from modelyard.features import services as features
from modelyard.features.models import Tile
from modelyard.jobs import process, services
from modelyard.jobs.models import Run, RunState

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
SPEC = """\
project: shop
team: red
program: modelyard.builtins
commands:
  compact_features:
    args: {source: clicks}
  backfill_features:
    args: {view: activity}
features:
  entities:
    user: [user_id]
  sources:
    clicks:
      entity: user
      event_time: ts
      lateness: 2h
      schema: {event_id: string, user_id: int, ts: timestamp}
  views:
    activity:
      source: clicks
      features:
        clicks_1d: {agg: count, window: 1d}
"""


def test_compaction_and_backfill_run_as_jobs(
    apply: Any, child_env: Any, recording_executor: Any
) -> None:
    commands = apply(SPEC)
    source = features.get_source("red", "clicks")
    with time_machine.travel(NOW, tick=False):
        for batch in range(3):  # each batch: a file for 11-30 and one for 12-01
            events = [
                {
                    "event_id": f"{batch}-{n}",
                    "user_id": 1,
                    "ts": (NOW - timedelta(minutes=20 + 20 * n)).isoformat(),
                }
                for n in range(2)
            ]
            features.ingest("test", source, events)
    prefix = offline.log_prefix(source)

    run, _ = services.request_run(commands["compact_features"], "manual")
    services.dispatch()
    assert process.execute(run.pk) == RunState.SUCCEEDED, Run.objects.get(pk=run.pk).logs
    run.refresh_from_db()
    assert (run.progress_done, run.progress_total) == (2, 2)
    assert len(offline.live_files(storage.get_store(prefix), prefix)) == 2

    view = features.get_view("red", "activity")
    Tile.objects.filter(view=view).delete()
    run, _ = services.request_run(commands["backfill_features"], "manual")
    services.dispatch()
    assert process.execute(run.pk) == RunState.SUCCEEDED, Run.objects.get(pk=run.pk).logs
    assert online.read(view, [[1]], at_us=int((NOW + timedelta(minutes=1)).timestamp() * 1e6)) == [
        {"clicks_1d": 6}
    ]
