"""A run's program in a real subprocess: success with outputs and lineage, failure with its
error, a transient failure retried, and timeouts and cancels that kill the process."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator

import pytest

from modelyard.jobs import process, services, starts
from modelyard.jobs.models import Command, Run, RunState
from modelyard.registry import services as registry
from modelyard.registry.models import AssetVersion, Kind
from tests.fixtures.models import _bytes
from tests.jobs.conftest import spec

pytestmark = pytest.mark.django_db(transaction=True)


def start(apply, command: str, trigger: dict | None = None, **options: str) -> Run:
    extra = "".join(f"\n  {key}: {value}" for key, value in options.items())
    apply(spec(f"{command}:{extra or ' {}'}\n"))
    run, _ = services.request_run(Command.objects.get(name=command), "manual", trigger)
    services.dispatch()
    return Run.objects.get(pk=run.pk)


def children_of(run_id: int) -> list[int]:
    """Processes still running this run's program (from /proc)."""
    wanted = f"modelyard.jobs.child\0{run_id}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()  # noqa: SIM115
            except OSError:
                continue
            if wanted in cmdline:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_successful_run_keeps_its_output_and_registers_with_lineage(
    apply, child_env, teams
) -> None:
    data = registry.create_asset(teams["alice"], Kind.DATASET, teams["red"], "events")
    registry.register_version(
        teams["alice"], data, registry.VersionSpec(), [_bytes("e.csv", b"a\n1\n")]
    )
    run = start(
        apply,
        "train",
        {"event": "dataset_version_created", "kind": "dataset", "version": "red/events:1"},
    )

    assert process.execute(run.pk) == RunState.SUCCEEDED

    run.refresh_from_db()
    assert (run.state, run.exit_code, run.attempt) == (RunState.SUCCEEDED, 0, 1)
    assert run.outputs == ["red/trained:1"]
    assert "modelyard: run" in run.logs
    model = AssetVersion.objects.get(asset__name="trained")
    assert [v.ref for v in model.trained_on.all()] == ["red/events:1"]
    assert process.execute(run.pk) == "skipped"  # a second delivery does not run it again


def test_a_failing_program_records_its_error(apply, child_env) -> None:
    run = start(apply, "fail")

    assert process.execute(run.pk) == RunState.FAILED

    run.refresh_from_db()
    assert run.exit_code == 1
    assert "ValueError: the input has no rows" in run.error
    assert "Traceback" in run.logs


def test_a_transient_failure_is_retried_with_backoff(apply, child_env) -> None:
    run = start(apply, "flaky", retries="2")

    process.execute(run.pk)
    run.refresh_from_db()
    assert (run.state, run.exit_code, run.attempt) == (RunState.QUEUED, 75, 1)
    assert run.not_before is not None
    Run.objects.filter(pk=run.pk).update(not_before=None)  # the backoff has passed
    services.dispatch()
    process.execute(run.pk)

    run.refresh_from_db()
    assert (run.state, run.attempt) == (RunState.SUCCEEDED, 2)
    assert "worked on attempt 2" in run.logs


@pytest.fixture(params=["fresh", "warm"])
def start_mode(request, settings, monkeypatch) -> Iterator[list[str]]:
    """Run the test with each way of starting a run's process; yields the ways used."""
    settings.RUN_START = request.param
    if request.param == "warm":
        starts.reset()  # a forkserver made from this test's environment
    used: list[str] = []
    for name, cls in (("warm", starts.WarmProcess), ("fresh", starts.FreshProcess)):

        def record(*args, _cls=cls, _name=name):
            used.append(_name)
            return _cls(*args)

        monkeypatch.setattr(starts, cls.__name__, record)
    yield used
    assert used == [request.param]  # the test ran its one run the way it meant to


def test_a_timeout_kills_the_program(apply, child_env, start_mode) -> None:
    run = start(apply, "sleep", timeout="2s")

    started = time.monotonic()
    assert process.execute(run.pk) == RunState.TIMED_OUT

    assert time.monotonic() - started < 30
    assert children_of(run.pk) == []  # killed, even if it had not started its sleep yet
    pid_file = process.run_directory(run.pk) / "pid"
    assert not pid_file.exists() or not alive(int(pid_file.read_text()))
    assert "timeout of 2 s" in Run.objects.get(pk=run.pk).error


def test_cancel_kills_a_running_program(apply, child_env, teams, start_mode) -> None:
    run = start(apply, "sleep")
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(process.execute(run.pk)))
    worker.start()
    pid_file = process.run_directory(run.pk) / "pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)

    services.cancel(teams["alice"], run)
    worker.join(30)

    assert outcome == [RunState.CANCELLED]
    assert not alive(int(pid_file.read_text()))


def test_a_failing_program_records_its_error_however_it_started(
    apply, child_env, start_mode
) -> None:
    run = start(apply, "fail")

    assert process.execute(run.pk) == RunState.FAILED

    run = Run.objects.get(pk=run.pk)
    assert run.exit_code == 1
    assert "ValueError: the input has no rows" in run.error
    assert "Traceback" in run.logs  # the program's stderr reached the run's log


def test_a_changed_environment_starts_fresh(monkeypatch, settings, tmp_path) -> None:
    settings.RUN_START = "warm"
    starts.reset()
    assert starts._Warm.get() is not None
    monkeypatch.setenv("MODELYARD_ARTIFACT_ROOT", (tmp_path / "elsewhere").as_uri())

    assert starts._Warm.get() is None  # the forkserver's settings would be stale


def test_a_command_line_gets_the_runs_context(apply, child_env) -> None:
    code = (
        "import modelyard.sdk as sdk; ctx = sdk.current(); ctx.progress(3, 3); "
        "print('cli', ctx.command, ctx.inputs('dataset'), ctx.output_dir.is_dir())"
    )
    trigger = {"event": "dataset_version_created", "kind": "dataset", "version": "red/events:1"}
    run = start(apply, "report", trigger, run=json.dumps(["python", "-c", code]))

    assert process.execute(run.pk) == RunState.SUCCEEDED

    run.refresh_from_db()
    assert "cli report ['red/events:1'] True" in run.logs
    assert (run.progress_done, run.progress_total, run.exit_code) == (3, 3, 0)


def test_a_command_line_exiting_75_is_retried(apply, child_env) -> None:
    run = start(apply, "flaky", run="\"python -c 'raise SystemExit(75)'\"", retries="1")

    process.execute(run.pk)

    run.refresh_from_db()
    assert (run.state, run.exit_code, run.attempt) == (RunState.QUEUED, 75, 1)


def test_a_command_line_that_cannot_start_says_so(apply, child_env) -> None:
    run = start(apply, "missing", run="no-such-program --now")

    assert process.execute(run.pk) == RunState.FAILED

    error = Run.objects.get(pk=run.pk).error
    assert "could not start `run:` 'no-such-program'" in error


def test_a_run_whose_process_cannot_start_fails_at_once(apply, child_env, monkeypatch) -> None:
    run = start(apply, "ok")

    def no_fork(*args):
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(starts, "start", no_fork)
    assert process.execute(run.pk) == RunState.FAILED

    run.refresh_from_db()
    assert run.state == RunState.FAILED  # ended now, not reclaimed a heartbeat timeout later
    assert "Could not start the run's process" in run.error
    assert "Resource temporarily unavailable" in run.error


def test_a_retry_gives_way_to_a_run_queued_meanwhile(apply, child_env) -> None:
    run = start(apply, "flaky", retries="1")
    newer, created = services.request_run(Command.objects.get(name="flaky"), "manual")
    assert created

    services.finish(run.pk, RunState.FAILED, exit_code=services.TRANSIENT_EXIT)

    run.refresh_from_db()
    assert run.state == RunState.FAILED
    assert "a queued run of the same command takes over" in run.error
    # The newer run takes over: still queued, or already dispatched into the freed slot.
    assert Run.objects.get(pk=newer.pk).state in (RunState.QUEUED, RunState.RUNNING)
