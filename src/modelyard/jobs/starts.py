"""Starting a run's process: warm (forked from a process that has Django set up) or fresh.

A fresh `python -m modelyard.jobs.child RUN_ID` spends about 0.35 s of CPU importing
Python, Django and modelyard before the program's first line; on a busy machine that is
seconds, and a burst of short runs spends most of the CPU on it. The warm start forks
each run from a `multiprocessing` forkserver that imported and set all that up once
(gunicorn's `--preload` and Celery's prefork make the same trade), so a run starts in
milliseconds. Each fork is as isolated as a fresh process: its own session (so a
timeout or cancel kills everything it started), its own log, no shared connection (none
is open in the forkserver).

A warm fork gets this process's current environment, but the settings it inherited were
read from the environment the forkserver started with; so a run goes warm only while the
variables settings read (MODELYARD_*, DJANGO_SETTINGS_MODULE) are what they were, and
starts fresh otherwise (tests that change settings, say), which is always correct.
MODELYARD_RUN_START=fresh turns warm starts off.
"""

from __future__ import annotations

import abc
import multiprocessing
import multiprocessing.connection
import os
import subprocess
import sys
import threading
from multiprocessing.context import ForkServerContext
from pathlib import Path

from django.conf import settings

from modelyard.jobs.child import run_forked

WARM_MODULE = "modelyard.jobs.warm"


class RunProcess(abc.ABC):
    pid: int

    @abc.abstractmethod
    def wait(self, timeout: float | None) -> int | None:
        """Its exit code (negative: killed by that signal), or None if still running."""


class FreshProcess(RunProcess):
    def __init__(self, run_id: int, directory: Path, log_path: Path) -> None:
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "modelyard.jobs.child", str(run_id)],
                cwd=directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.popen.pid

    def wait(self, timeout: float | None) -> int | None:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


class WarmProcess(RunProcess):
    # multiprocessing is not thread-safe here: Process.start() polls every other live
    # Process of this process, and two threads reading one child's exit status from the
    # forkserver both read its socket: the loser gets EOF, and exit code 255 (a succeeded
    # run failed in burst.py once in ~200 runs). Starts and status reads take this lock;
    # the waiting itself does not.
    status_lock = threading.Lock()

    def __init__(
        self, context: ForkServerContext, run_id: int, directory: Path, log_path: Path
    ) -> None:
        arguments = (run_id, str(directory), str(log_path), dict(os.environ))
        self.process = context.Process(target=run_forked, args=arguments, daemon=False)
        with self.status_lock:
            self.process.start()
        self.pid = int(self.process.pid or 0)

    def wait(self, timeout: float | None) -> int | None:
        multiprocessing.connection.wait([self.process.sentinel], timeout)
        with self.status_lock:
            return self.process.exitcode


class _Warm:
    """The forkserver, started on first use with this process's environment."""

    lock = threading.Lock()
    context: ForkServerContext | None = None
    read_by_settings: dict[str, str] = {}

    @classmethod
    def get(cls) -> ForkServerContext | None:
        with cls.lock:
            if cls.context is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([WARM_MODULE])
                cls.context, cls.read_by_settings = context, settings_environment()
            return cls.context if settings_environment() == cls.read_by_settings else None


def settings_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name.startswith("MODELYARD_") or name == "DJANGO_SETTINGS_MODULE"
    }


def reset() -> None:
    """Stop the forkserver: the next warm start makes one from the environment as it is
    then (for tests, which change settings between runs)."""
    from multiprocessing import forkserver

    with _Warm.lock:
        if _Warm.context is not None:
            stop = getattr(forkserver._forkserver, "_stop", None)  # private, since 3.8
            if stop is not None:
                stop()
        _Warm.context = None


def start(run_id: int, directory: Path, log_path: Path) -> RunProcess:
    if settings.RUN_START == "warm":
        context = _Warm.get()
        if context is not None:
            return WarmProcess(context, run_id, directory, log_path)
    return FreshProcess(run_id, directory, log_path)
