"""`modelyard worker`: which Celery nodes it runs, and how it runs two of them as one."""

from __future__ import annotations

import sys
import time

import click
import pytest

from modelyard.cli.operate import worker_nodes
from modelyard.cli.supervise import run_together


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_by_default_runs_get_a_node_of_threads_apart_from_the_task_queues() -> None:
    nodes = worker_nodes("default,deletions,events,runs", 2, run_slots=15, name="gpu1")

    tasks, runs = nodes["tasks"], nodes["runs"]
    assert option(tasks, "--queues") == "default,deletions,events"
    assert (option(tasks, "--pool"), option(tasks, "--concurrency")) == ("prefork", "2")
    assert option(runs, "--queues") == "runs"
    assert (option(runs, "--pool"), option(runs, "--concurrency")) == ("threads", "15")
    assert (option(tasks, "--hostname"), option(runs, "--hostname")) == (
        "gpu1-tasks@%h",
        "gpu1-runs@%h",
    )


@pytest.mark.parametrize(("queues", "expected"), [("runs", ["runs"]), ("events", ["tasks"])])
def test_one_kind_of_queue_is_one_node(queues: str, expected: list[str]) -> None:
    assert list(worker_nodes(queues, 1, run_slots=4)) == expected


def test_an_unknown_queue_is_named() -> None:
    with pytest.raises(click.BadParameter, match=r"unknown queue.*evnts.*default,deletions"):
        worker_nodes("default,evnts", 1, run_slots=4)


def test_when_one_process_exits_the_others_are_stopped_and_its_code_returned() -> None:
    started = time.monotonic()
    code = run_together(
        {
            "fails": [sys.executable, "-c", "import sys, time; time.sleep(0.5); sys.exit(3)"],
            "sleeps": [sys.executable, "-c", "import time; time.sleep(60)"],
        }
    )
    assert code == 3
    assert time.monotonic() - started < 30  # the sleeper was terminated, not waited for
