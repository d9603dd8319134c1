"""Operator commands: run the processes, migrate, mint tokens and users."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from modelyard import config

QUEUES = "default,deletions,events,runs"
RUNS_QUEUE = "runs"


def django_setup(*, create: bool = False) -> None:
    """Set Django up for an in-process command. Only `create` commands (up, migrate) may start
    a new embedded installation; the others refuse, in one line, to run on no database."""
    import django
    from django.apps import apps

    if not apps.ready and not create:
        config.require_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")
    django.setup()


def exec_command(argv: list[str]) -> None:
    """Replace this process, so signals and exit codes belong to the real server."""
    os.execvp(argv[0], argv)  # noqa: S606 - argv is built here, never from a shell string


def server_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "modelyard.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--access-logfile",
        "-",
        "--timeout",
        "600",
    ]


def worker_argv(
    queues: str, concurrency: int, *, pool: str = "prefork", node: str | None = None
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "modelyard.celery",
        "worker",
        "--queues",
        queues,
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    return [*argv, "--hostname", node] if node else argv


def worker_nodes(
    queues: str, concurrency: int, run_slots: int, name: str = ""
) -> dict[str, list[str]]:
    """The Celery nodes one `modelyard worker` runs: task queues on a prefork pool, and the
    `runs` queue on a pool of threads of its own.

    A run's task only starts the run's subprocess and watches it for hours, so it must not
    hold one of the processes that handle events and dispatch (a burst of events would wait
    behind 15 running runs); a thread waiting on a child costs next to nothing.
    """
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(wanted) - set(QUEUES.split(",")))
    if unknown or not wanted:
        raise click.BadParameter(
            f"unknown queue(s) {', '.join(unknown) or '(none given)'}; choose from {QUEUES}.",
            param_hint="--queues",
        )
    prefix = f"{name}-" if name else ""
    nodes = {}
    tasks = [q for q in wanted if q != RUNS_QUEUE]
    if tasks:
        nodes["tasks"] = worker_argv(",".join(tasks), concurrency, node=f"{prefix}tasks@%h")
    if RUNS_QUEUE in wanted:
        node = f"{prefix}runs@%h"
        nodes["runs"] = worker_argv(RUNS_QUEUE, run_slots, pool="threads", node=node)
    return nodes


def beat_argv() -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "modelyard.celery",
        "beat",
        "--loglevel",
        "INFO",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
    ]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Processes.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per process.")
def server(host: str, port: int, workers: int, threads: int) -> None:
    """Run the web app (UI, API, admin) with gunicorn."""
    exec_command(server_argv(host, port, workers, threads))


@click.command()
@click.option("--queues", default=QUEUES, show_default=True, help="Comma-separated queues.")
@click.option(
    "--concurrency",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes for the task queues (default, deletions, events).",
)
@click.option(
    "--run-slots",
    type=click.IntRange(min=1),
    help="Runs this worker executes at once (`runs` queue).  "
    "[default: MODELYARD_MAX_CONCURRENT_RUNS]",
)
@click.option("--name", default="", help="Node name prefix, for several workers on one machine.")
def worker(queues: str, concurrency: int, run_slots: int | None, name: str) -> None:
    """Run Celery workers: deletions, sweeps, events, dispatch, and job runs."""
    if run_slots is None:
        django_setup()
        from django.conf import settings

        run_slots = int(settings.MAX_CONCURRENT_RUNS)
    nodes = worker_nodes(queues, concurrency, run_slots, name)
    if len(nodes) == 1:
        exec_command(next(iter(nodes.values())))
    from modelyard.cli.supervise import run_together

    sys.exit(run_together(nodes, grace=None))


@click.command()
def beat() -> None:
    """Run Celery beat with the database-backed schedule (run exactly one)."""
    django_setup()
    from modelyard.schedule import ensure_schedule

    ensure_schedule()
    exec_command(beat_argv())


@click.command()
def migrate() -> None:
    """Create or update the database tables."""
    django_setup(create=True)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)


@click.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="Label to tell tokens apart.")
@click.option("--expires-days", type=click.IntRange(min=1), default=None)
@click.option(
    "--save",
    is_flag=True,
    help="Also sign this machine's CLI in with it (as `modelyard login MODELYARD_BASE_URL`).",
)
def token_create(username: str, name: str, expires_days: int | None, save: bool) -> None:
    """Create a token for USERNAME and print it (it is shown only once)."""
    django_setup()
    from datetime import timedelta

    from django.utils import timezone

    from modelyard.accounts.services import get_user
    from modelyard.accounts.tokens import create_token
    from modelyard.lib.errors import NotFound

    try:
        user = get_user(username)
    except NotFound as error:
        raise NotFound(f"{error.message} Create it with `modelyard users create`.") from None
    expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
    _, raw = create_token(user, name, expires)
    if save:
        from django.conf import settings

        config.save_login(settings.BASE_URL, raw)
    click.echo(raw)


@click.group()
def users() -> None:
    """People who sign in."""


@users.command("create")
@click.argument("username")
@click.option("--email", default="")
@click.option("--staff", is_flag=True, help="May use the admin and act on every team.")
@click.option("--password", default=None, help="For the web UI; API access uses tokens.")
def users_create(username: str, email: str, staff: bool, password: str | None) -> None:
    """Create a user (tokens for the API come from `modelyard token create`).

    Names: 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.
    """
    django_setup()
    from modelyard.accounts.services import create_user
    from modelyard.lib.errors import ModelyardError

    try:
        create_user("cli", username, email=email, password=password, staff=staff)
    except ModelyardError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created user {username}{' (staff)' if staff else ''}.")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set USERNAME's password for the web UI and the admin (asked twice unless piped)."""
    django_setup()
    from modelyard.accounts.services import get_user, set_password
    from modelyard.cli.supervise import forget_first_password

    user = get_user(username)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    set_password("cli", user, password)
    forget_first_password(username)
    click.echo(f"Set the password of {username}.")


@users.command("deactivate")
@click.argument("username")
def users_deactivate(username: str) -> None:
    """Stop USERNAME from signing in: the web UI, the admin and every token of theirs."""
    django_setup()
    from modelyard.accounts.services import deactivate_user, get_user

    deactivate_user("cli", get_user(username))
    click.echo(f"Deactivated {username}: they can no longer sign in, and their tokens are refused.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-demo", is_flag=True, help="Do not seed the demo catalog.")
@click.option(
    "--serve-port",
    default=8080,
    show_default=True,
    type=int,
    help="Port of the prediction server (every model with a production alias).",
)
def up(host: str, port: int, no_demo: bool, serve_port: int) -> None:
    """Run everything on this machine: web, worker, beat and serve, on the embedded defaults."""
    # Links in notices must point at this server unless a public URL was configured.
    os.environ.setdefault("MODELYARD_BASE_URL", f"http://{host}:{port}")
    django_setup(create=True)
    from django.conf import settings

    from modelyard.cli.supervise import prepare, supervise

    base = f"http://{host}:{port}"
    access = prepare(seed=not no_demo, base_url=base)
    processes = {
        "web": server_argv(host, port, workers=1, threads=8),
        **worker_nodes(QUEUES, concurrency=1, run_slots=settings.MAX_CONCURRENT_RUNS),
        "beat": beat_argv(),
    }
    # The server follows the registry: a model promoted while `up` runs is served too.
    processes["serve"] = serve_argv(host, serve_port)
    url = f"http://{host}:{serve_port}"
    config.save_serving_url(url)  # where `modelyard predict` sends rows, from any folder
    notes = [
        f"  serving:   every model with a production alias at {url}/v2/models/NAME/infer "
        "(try `modelyard predict`)"
    ]
    sys.exit(supervise(processes, base, access, notes, logs=settings.HOME / "logs"))


def serve_argv(host: str, port: int) -> list[str]:
    """`up`'s prediction server: every model with a production alias, now or later."""
    return [
        sys.executable,
        "-m",
        "modelyard.cli.main",
        "serve",
        "--all",
        "--host",
        host,
        "--port",
        str(port),
    ]


def register(group: Any) -> None:
    for command in (up, server, worker, beat, migrate, token, users):
        group.add_command(command)
