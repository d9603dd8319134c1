"""Warm starts from many threads at once: each run gets its own exit code."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from modelyard.jobs import starts


def exits_with_its_run_id(run_id: int, directory: str, log_path: str, environment: dict) -> None:
    sys.exit(run_id % 7)


@pytest.fixture
def forked(monkeypatch, settings):
    settings.RUN_START = "warm"
    starts.reset()
    monkeypatch.setattr(starts, "run_forked", exits_with_its_run_id)
    yield
    starts.reset()


def test_threads_starting_and_waiting_at_once_each_get_their_runs_exit_code(
    forked, tmp_path: Path
) -> None:
    """A runs worker watches its runs from a thread each. multiprocessing polls other
    threads' processes when it starts one; unguarded, two threads read one exit status and
    one of them sees 255."""
    wrong: list[tuple[int, int | None]] = []

    def runs(first: int) -> None:
        for run_id in range(first, first + 40):
            process = starts.start(run_id, tmp_path, tmp_path / "log")
            assert isinstance(process, starts.WarmProcess)
            code = process.wait(30)
            if code != run_id % 7:
                wrong.append((run_id, code))

    threads = [threading.Thread(target=runs, args=(100 * n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert wrong == []
