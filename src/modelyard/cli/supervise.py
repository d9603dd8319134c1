"""`modelyard up`: prepare the embedded installation and keep web, worker and beat running."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

from modelyard import config

ADMIN = "admin"


@dataclass(frozen=True)
class Access:
    username: str
    password: str | None  # only known when it was just generated
    token: str
    base_url: str


def prepare(*, seed: bool, base_url: str) -> Access:
    """Migrate, make sure an admin and a saved token exist, seed the demo, write the schedule."""
    from django.core.management import call_command

    from modelyard.cli.demo import seed_demo
    from modelyard.schedule import ensure_schedule

    call_command("migrate", interactive=False, verbosity=0)
    access = _admin_access(base_url)
    if seed:
        from modelyard.accounts.services import get_user

        if seed_demo(get_user(ADMIN)):
            click.echo("Seeded the demo catalog (team 'demo').")
    ensure_schedule()
    _first_scan()
    return access


def _first_scan() -> None:
    """Scan once at start-up so a laptop sees the lifecycle at work without waiting a day."""
    from modelyard.lifecycle.notify import send_pending
    from modelyard.lifecycle.scan import scan

    result = scan()
    emails = send_pending().emails if result.applied else 0
    if result.planned:
        click.echo(f"Lifecycle scan: {len(result.planned)} step(s) due, {emails} email(s) sent.")


def first_password_path() -> Path:
    """Where `up` keeps the admin password it generated, until someone sets another."""
    return config.home_path() / "admin_password"


def forget_first_password(username: str) -> None:
    """A password set by hand makes the generated one wrong: stop pointing at it."""
    if username == ADMIN:
        first_password_path().unlink(missing_ok=True)


def _admin_access(base_url: str) -> Access:
    """The admin (created with a generated password on first start) and a token of theirs,
    saved as the CLI's login for this server so the CLI works from any folder."""
    from django.contrib.auth import get_user_model

    from modelyard.accounts.tokens import create_token, user_for_token

    model = get_user_model()
    password = None
    user = model.objects.filter(username=ADMIN).first()
    if user is None:
        password = secrets.token_urlsafe(12)
        user = model.objects.create_superuser(ADMIN, "admin@example.com", password)
        config.write_private(first_password_path(), password + "\n")
    saved = config.login_token(base_url) or ""
    if saved and user_for_token(saved) is not None:
        return Access(ADMIN, password, saved, base_url)
    _, raw = create_token(user, "modelyard up")
    config.save_login(base_url, raw)
    return Access(ADMIN, password, raw, base_url)


def supervise(
    commands: dict[str, list[str]],
    base_url: str,
    access: Access,
    notes: Sequence[str] = (),
    *,
    logs: Path,
) -> int:
    """Start every process, each logging to its own file under `logs`, and print the ready
    block once the web app answers, as the last thing on the terminal; stop them all when
    one exits or on Ctrl-C. Return an exit code."""

    def announce(processes: dict[str, subprocess.Popen[bytes]]) -> None:
        if _wait_ready(base_url, processes):
            _announce(base_url, access, [*notes, f"  logs:      {logs}/ (one file per process)"])

    click.echo(f"Starting {', '.join(commands)}; their logs go to {logs}/ ...")
    return run_together(commands, announce, logs=logs)


def run_together(
    commands: dict[str, list[str]],
    started: Callable[[dict[str, subprocess.Popen[bytes]]], None] | None = None,
    grace: float | None = 15,
    logs: Path | None = None,
) -> int:
    """Run the processes as one: when one exits (or on SIGINT/SIGTERM) stop the others,
    killing what is still there after `grace` seconds (None: wait, e.g. for a Celery warm
    shutdown to let running tasks end). With `logs`, each writes to `logs/NAME.log` (appended
    to, so a crash before a restart stays readable) instead of this terminal."""
    processes = {name: _start(name, argv, logs) for name, argv in commands.items()}
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if started is not None:
            started(processes)
        code = _watch(processes, lambda: stopping, logs)
        _stop_all(processes, grace)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _start(name: str, argv: list[str], logs: Path | None) -> subprocess.Popen[bytes]:
    if logs is None:
        return subprocess.Popen(argv)
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


def _wait_ready(base_url: str, processes: dict[str, subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes.values()):
            return False
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def _announce(base_url: str, access: Access, notes: Sequence[str]) -> None:
    lines = [
        f"modelyard is up at {base_url}",
        f"  sign in:   {base_url}/ as {access.username}, {_password_line(access)}",
        f"  API docs:  {base_url}/api/v1/docs",
        f"  API token: {access.token}",
        f"  the CLI is signed in from any folder (saved to {config.logins_path()}); "
        "try `modelyard models list`",
        *notes,
        "Press Ctrl-C to stop.",
    ]
    click.secho("\n".join(lines), fg="green")
    sys.stdout.flush()


def _password_line(access: Access) -> str:
    saved = first_password_path()
    if access.password:
        return f"password {access.password} (saved to {saved})"
    if saved.exists():
        return f"password in {saved}"
    return f"with the password you set (reset: `modelyard users set-password {access.username}`)"


def _watch(
    processes: dict[str, subprocess.Popen[bytes]],
    stopping: Callable[[], bool],
    logs: Path | None,
) -> int:
    while not stopping():
        for name, process in processes.items():
            code = process.poll()
            if code is not None:
                where = f" (its log: {logs / f'{name}.log'})" if logs is not None else ""
                click.secho(
                    f"{name} exited with code {code}{where}; stopping the others.", fg="red"
                )
                return code or 1
        time.sleep(0.5)
    return 0


def _stop_all(processes: dict[str, subprocess.Popen[bytes]], grace: float | None) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = None if grace is None else time.monotonic() + grace
    for process in processes.values():
        left = None if deadline is None else max(0.1, deadline - time.monotonic())
        try:
            process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            process.kill()
