"""Executing one run: its program in a subprocess, watched, heartbeating, killable.

The program runs in a process of its own (jobs/child.py, started warm or fresh by
jobs/starts.py) in its own session (process group), so a crash or a leak in it cannot take
the worker down, and a timeout or a cancel kills it with everything it started. Its output
goes to a log file under MODELYARD_HOME/runs/<id>/, whose end is copied to the run at every
heartbeat.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from pathlib import Path

from django.conf import settings

from modelyard.jobs import services, starts
from modelyard.jobs.models import RunState
from modelyard.jobs.starts import RunProcess

LOG_TAIL_BYTES = 64 * 1024
KILL_GRACE_SECONDS = 5.0


def run_directory(run_id: int) -> Path:
    path = Path(settings.HOME) / "runs" / str(run_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def execute(run_id: int) -> str:
    """Run it to the end; return the final state (or "skipped" if another process has it)."""
    # host:pid:thread: a runs worker watches several runs at once, one per thread.
    worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_native_id()}"
    run = services.claim_execution(run_id, worker)
    if run is None:
        return "skipped"
    directory = run_directory(run_id)
    log_path = directory / "output.log"
    try:
        child = starts.start(run_id, directory, log_path)
    except OSError as problem:  # no process, no fork, a log folder it cannot write
        message = f"Could not start the run's process on {worker}: {problem}"
        services.finish(run_id, RunState.FAILED, error=message)
        return RunState.FAILED
    state, error, code = _watch(child, run_id, run.command.timeout_seconds, log_path)
    _kill_leftovers(child.pid)
    if state == RunState.SUCCEEDED and code != 0:
        state, error = RunState.FAILED, _last_line(log_path) or f"Exit code {code}."
    services.finish(run_id, state, exit_code=code, error=error, logs=tail(log_path))
    return state


def _kill_leftovers(group: int) -> None:
    """Processes the program started and left behind die with its run."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def _watch(
    child: RunProcess, run_id: int, timeout: float, log_path: Path
) -> tuple[str, str, int | None]:
    """Heartbeat until it exits, is cancelled or times out: (state, error, exit code)."""
    deadline = time.monotonic() + timeout
    while True:
        code = child.wait(settings.RUN_HEARTBEAT_SECONDS)
        if code is not None:
            return RunState.SUCCEEDED, "", code
        if services.heartbeat(run_id, tail(log_path)):
            error = "Cancelled while running; the program was stopped."
            return RunState.CANCELLED, error, _kill(child)
        if time.monotonic() > deadline:
            error = f"Stopped after its timeout of {timeout:.0f} s."
            return RunState.TIMED_OUT, error, _kill(child)


def _kill(child: RunProcess) -> int | None:
    """SIGTERM the whole process group, then SIGKILL what is left after a grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        code = child.wait(wait)
        if code is not None:
            return code
    return child.wait(None)


def _last_line(log_path: Path) -> str:
    lines = [line for line in tail(log_path).splitlines() if line.strip()]
    return lines[-1] if lines else ""
