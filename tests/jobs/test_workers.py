"""Real Celery worker processes on Redis: the global cap holds across them, and a worker
killed mid-run has its run's slot reclaimed."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from modelyard.jobs import services
from modelyard.jobs.models import Command, Run, RunState
from modelyard.jobs.tasks import dispatch_runs
from tests.fixtures.worker import broker_for, celery_worker
from tests.jobs.conftest import spec

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CAP = 3


@pytest.fixture
def broker(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Dispatches requested by this process go to the workers through Redis."""
    url = broker_for(redis_url)
    redis.Redis.from_url(url).flushdb()
    publisher = Celery(broker=url)
    monkeypatch.setattr(
        dispatch_runs, "delay", lambda: publisher.send_task(dispatch_runs.name, queue="default")
    )
    yield url
    redis.Redis.from_url(url).flushdb()


def worker_env(intervals: Path, heartbeat_timeout: str = "60") -> dict[str, str]:
    return {
        "MODELYARD_MAX_CONCURRENT_RUNS": str(CAP),
        "MODELYARD_RUN_HEARTBEAT_SECONDS": "0.2",
        "MODELYARD_RUN_HEARTBEAT_TIMEOUT": heartbeat_timeout,
        "SAMPLE_INTERVALS": str(intervals),
        "SAMPLE_SLEEP": "1",
    }


def wait_until(condition, seconds: float, sample=None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if sample:
            sample()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _kill_orphan(home: Path, run_id: int) -> None:
    """The killed worker's program lives on in its own session; end it."""
    pid_file = home / "runs" / str(run_id) / "pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def most_at_once(intervals: Path) -> int:
    edges = []
    for line in intervals.read_text().splitlines():
        _, start, end = line.split()
        edges += [(float(start), 1), (float(end), -1)]
    running = peak = 0
    for _, change in sorted(edges):
        running += change
        peak = max(peak, running)
    return peak


def test_the_cap_holds_across_worker_processes(
    apply, broker, artifact_root, tmp_path, child_env
) -> None:
    intervals = tmp_path / "intervals.txt"
    commands = apply(spec("\n".join(f"c{i}: {{entry: busy}}" for i in range(10))))
    env = worker_env(intervals)
    sampled: list[int] = []
    with (
        celery_worker(
            broker,
            tmp_path / "w1",
            artifact_root.as_uri(),
            "default,runs",
            concurrency=4,
            extra_env=env,
        ),
        celery_worker(
            broker,
            tmp_path / "w2",
            artifact_root.as_uri(),
            "default,runs",
            concurrency=4,
            extra_env=env,
        ),
    ):
        for command in commands.values():
            services.request_run(command, "manual")
        wait_until(
            lambda: Run.objects.filter(state=RunState.SUCCEEDED).count() == 10,
            120,
            lambda: sampled.append(Run.objects.filter(state=RunState.RUNNING).count()),
        )

    assert max(sampled) <= CAP
    assert most_at_once(intervals) == CAP  # eight execution slots, three runs at a time
    assert len({run.worker.split(":")[0] for run in Run.objects.all()}) >= 1


def test_a_worker_killed_mid_run_gives_its_slot_back(
    apply, broker, artifact_root, tmp_path, child_env
) -> None:
    intervals = tmp_path / "intervals.txt"
    apply(spec("long: {entry: sleep}\nshort: {entry: ok}\n"))
    env = {
        **worker_env(intervals, heartbeat_timeout="3"),
        "SAMPLE_SLEEP": "60",
        "MODELYARD_MAX_CONCURRENT_RUNS": "1",
    }
    with celery_worker(
        broker, tmp_path / "w1", artifact_root.as_uri(), "default,runs", extra_env=env
    ) as worker:
        long_run, _ = services.request_run(Command.objects.get(name="long"), "manual")
        wait_until(lambda: Run.objects.get(pk=long_run.pk).worker != "", 60)
        short_run, _ = services.request_run(Command.objects.get(name="short"), "manual")
        worker.send_signal(signal.SIGKILL)  # mid-run: no finish, no heartbeat any more
        worker.wait()
    assert Run.objects.get(pk=short_run.pk).state == RunState.QUEUED  # the cap of 1 is full

    with celery_worker(
        broker, tmp_path / "w2", artifact_root.as_uri(), "default,runs", extra_env=env
    ):
        time.sleep(3.5)
        dispatch_runs.delay()  # what beat's periodic dispatch does, on a worker
        wait_until(lambda: Run.objects.get(pk=short_run.pk).state == RunState.SUCCEEDED, 60)
    _kill_orphan(tmp_path / "w1", long_run.pk)

    lost = Run.objects.get(pk=long_run.pk)
    assert lost.state == RunState.FAILED
    assert "stopped answering" in lost.error
