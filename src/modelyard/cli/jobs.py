"""`modelyard apply`, `modelyard runs …`, `modelyard events send`: clients of the API."""

from __future__ import annotations

import json
from pathlib import Path

import click

from modelyard.cli.catalog import _console, _print_json, _table, json_option
from modelyard.client import Client, Json


@click.command()
@click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default="modelyard.yaml",
    show_default=True,
)
@click.option("--dry-run", is_flag=True, help="Show the changes; apply nothing.")
def apply(path: Path, dry_run: bool) -> None:
    """Apply a project's modelyard.yaml: commands, schedules and event triggers."""
    with Client() as client:
        result = client.apply(path.read_text(), dry_run=dry_run)
    for line in result["changes"] or ["(no changes)"]:
        click.echo(line)
    if result["changes"]:
        verb = "Would apply" if dry_run else "Applied"
        click.echo(f"{verb} {len(result['changes'])} change(s) to {result['project']}.")


@click.group()
def runs() -> None:
    """Runs of projects' commands: list, show (with logs), start, cancel, re-run."""


@runs.command("list")
@click.option("--project", metavar="TEAM/PROJECT")
@click.option(
    "--state",
    type=click.Choice(["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]),
)
@json_option
def runs_list(project: str | None, state: str | None, as_json: bool) -> None:
    with Client() as client:
        rows = client.runs(project=project, state=state)
    if as_json:
        _print_json(rows)
        return
    table = _table("RUN", "PROJECT", "COMMAND", "STATE", "REASON", "EVENTS", "ATTEMPT", "CREATED")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["project"],
            row["command"],
            row["state"],
            row["reason"],
            str(row["events"]),
            f"{row['attempt']}/{row['max_attempts']}",
            row["created_at"][:19],
        )
    _console().print(table)


@runs.command("show")
@click.argument("run_id", type=int)
@json_option
def runs_show(run_id: int, as_json: bool) -> None:
    with Client() as client:
        run = client.run(run_id)
    if as_json:
        _print_json(run)
        return
    _print_run(run)
    click.echo(run["logs"] or "(no output yet)")


def _print_run(run: Json) -> None:
    progress = ""
    if run["progress_total"]:
        progress = f", {run['progress_done']}/{run['progress_total']}"
        progress += f", ETA {run['eta_seconds']:.0f} s" if run["eta_seconds"] is not None else ""
    click.echo(
        f"run {run['id']}: {run['project']}:{run['command']} {run['state']}{progress} "
        f"(attempt {run['attempt']}/{run['max_attempts']}, {run['events']} event(s))"
    )
    if run["error"]:
        click.echo(f"error: {run['error']}")
    for ref in run["outputs"]:
        click.echo(f"registered {ref}")


@runs.command("start")
@click.argument("project", metavar="TEAM/PROJECT")
@click.argument("command")
def runs_start(project: str, command: str) -> None:
    """Queue a run now (folded into one already queued for the command)."""
    with Client() as client:
        run = client.start_run(project, command)
    _print_run(run)


@runs.command("cancel")
@click.argument("run_id", type=int)
def runs_cancel(run_id: int) -> None:
    with Client() as client:
        _print_run(client.cancel_run(run_id))


@runs.command("rerun")
@click.argument("run_id", type=int)
def runs_rerun(run_id: int) -> None:
    with Client() as client:
        _print_run(client.rerun(run_id))


@click.group()
def events() -> None:
    """External events that trigger the commands listening for them."""


@events.command("send")
@click.argument("event")
@click.option("--team", help="The team sending it (you must be a member); default: your only team.")
@click.option("--payload", default="{}", metavar="JSON", help='e.g. \'{"table": "clicks"}\'.')
def events_send(event: str, team: str | None, payload: str) -> None:
    """Send an external event for your team, to the commands listening to that team's events."""
    try:
        body = json.loads(payload)
    except ValueError as error:
        raise click.BadParameter(f"not valid JSON ({error}).", param_hint="--payload") from None
    with Client() as client:
        sent = client.send_event(event, body, team=team)
    click.echo(f"Sent {event} for team {sent['team']}.")


def register(group: click.Group) -> None:
    for command in (apply, runs, events):
        group.add_command(command)
