"""Real Celery workers on Redis, laid out as `modelyard worker` runs them (task queues on
one node, `runs` on a node of threads): the global cap holds across them, events are
handled while every run slot is busy, and a worker killed mid-run takes its program with
it and has the run's slot reclaimed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.utils import timezone

from modelyard.jobs import queue, services
from modelyard.jobs.models import Command, Run, RunState
from modelyard.lib import tasks as lib_tasks
from tests.fixtures.worker import broker_for, celery_worker
from tests.jobs.conftest import spec

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CAP = 3


@pytest.fixture
def publisher(redis_url: str) -> Iterator[Celery]:
    url = broker_for(redis_url)
    redis.Redis.from_url(url).flushdb()
    app = Celery(broker=url, set_as_current=False)
    app.conf.task_routes = settings.CELERY_TASK_ROUTES
    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    yield app
    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def broker(publisher: Celery, monkeypatch: pytest.MonkeyPatch) -> str:
    """What this process enqueues (dispatches) goes to the workers through Redis, on the
    routed queues, instead of running here as the tests' eager tasks do."""
    monkeypatch.setattr(lib_tasks, "current_app", publisher)
    return str(publisher.conf.broker_url)


@contextlib.contextmanager
def worker(
    broker: str, home: Path, artifact_root: Path, env: dict[str, str], run_slots: int
) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """One `modelyard worker`: its task node (dispatch, events) and its runs node."""
    root = artifact_root.as_uri()
    with (
        celery_worker(broker, home, root, "default,events", extra_env=env) as tasks,
        celery_worker(broker, home, root, "runs", concurrency=run_slots, extra_env=env) as runs,
    ):
        yield tasks, runs


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


def heartbeat_older_than(run_id: int, seconds: float) -> bool:
    stale = timezone.now() - timedelta(seconds=seconds)
    return Run.objects.filter(pk=run_id, heartbeat_at__lt=stale).exists()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie is dead; only its parent has to reap it
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


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
        worker(broker, tmp_path / "w1", artifact_root, env, run_slots=4),
        worker(broker, tmp_path / "w2", artifact_root, env, run_slots=4),
    ):
        for command in commands.values():
            services.request_run(command, "manual")
        wait_until(
            lambda: Run.objects.filter(state=RunState.SUCCEEDED).count() == 10,
            120,
            lambda: sampled.append(Run.objects.filter(state=RunState.RUNNING).count()),
        )

    assert max(sampled) <= CAP
    assert most_at_once(intervals) == CAP  # eight run slots, three runs at a time
    watchers = {run.worker.split(":")[1] for run in Run.objects.all()}
    assert 1 <= len(watchers) <= 2  # host:pid:thread, and the pids are the two runs nodes


def test_events_are_handled_while_every_run_slot_is_busy(
    apply, broker, publisher, artifact_root, tmp_path, child_env
) -> None:
    """Running runs hold threads of the runs node, not the processes handling events."""
    apply(spec("a: {entry: sleep}\nb: {entry: sleep}\nlistener: {entry: ok, on: [{seen: {}}]}"))
    env = {
        **worker_env(tmp_path / "intervals.txt"),
        "SAMPLE_SLEEP": "60",
        "MODELYARD_MAX_CONCURRENT_RUNS": "2",
    }
    with worker(broker, tmp_path / "w1", artifact_root, env, run_slots=2):
        for name in ("a", "b"):
            services.request_run(Command.objects.get(name=name), "manual")
        wait_until(lambda: Run.objects.exclude(worker="").count() == 2, 60)
        for number in range(20):
            queue.enqueue(queue.HANDLE_EVENT, "seen", {"n": number}, "red")
        listener = Run.objects.filter(command__name="listener")
        wait_until(lambda: sum(listener.values_list("events", flat=True)) == 20, 60)
        assert Run.objects.filter(state=RunState.RUNNING).count() == 2  # still both sleeping
        for run in Run.objects.filter(state=RunState.RUNNING):
            services.cancel(None, run)  # so the runs node can shut down warm at once
        wait_until(lambda: not Run.objects.filter(state=RunState.RUNNING).exists(), 30)
    assert len(listener.get().triggers) == 20


def test_a_worker_killed_mid_run_gives_its_slot_back(
    apply, broker, artifact_root, tmp_path, child_env
) -> None:
    apply(spec("long: {entry: sleep}\nshort: {entry: ok}\n"))
    env = {
        **worker_env(tmp_path / "intervals.txt", heartbeat_timeout="3"),
        "SAMPLE_SLEEP": "60",
        "MODELYARD_MAX_CONCURRENT_RUNS": "1",
    }
    root = artifact_root.as_uri()
    with celery_worker(broker, tmp_path / "tasks", root, "default", extra_env=env):
        with celery_worker(broker, tmp_path / "w1", root, "runs", extra_env=env) as runs:
            long_run, _ = services.request_run(Command.objects.get(name="long"), "manual")
            pid_file = tmp_path / "w1" / "runs" / str(long_run.pk) / "pid"
            wait_until(pid_file.exists, 60)
            short_run, _ = services.request_run(Command.objects.get(name="short"), "manual")
            runs.send_signal(signal.SIGKILL)  # mid-run: no finish, no heartbeat any more
            runs.wait()
        program = int(pid_file.read_text())
        wait_until(lambda: not alive(program), 10)  # the program went with its worker
        assert Run.objects.get(pk=short_run.pk).state == RunState.QUEUED  # the cap is full

        with celery_worker(broker, tmp_path / "w2", root, "runs", extra_env=env):
            # The dispatcher reclaims a slot once its run's last heartbeat is older than the
            # timeout (3 s here): wait for that, then ask for one dispatch.
            wait_until(lambda: heartbeat_older_than(long_run.pk, seconds=3), 30)
            queue.enqueue(queue.DISPATCH_RUNS)  # what beat's periodic dispatch does
            wait_until(lambda: Run.objects.get(pk=short_run.pk).state == RunState.SUCCEEDED, 60)

    lost = Run.objects.get(pk=long_run.pk)
    assert lost.state == RunState.FAILED
    assert "stopped answering" in lost.error
