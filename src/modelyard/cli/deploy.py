"""`modelyard promote | rollback | promotions | gate` (API clients) and `modelyard serve`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from modelyard.cli.catalog import _print_json, json_option
from modelyard.client import ApiError, Client, Json


def _print_report(report: Json) -> None:
    for check in report.get("checks", []):
        mark = "pass" if check.get("passed") else "FAIL"
        click.echo(f"  {mark}  {check.get('name')}: {check.get('message')}")


def _print_promotion(promotion: Json) -> None:
    before = promotion["from_version"]
    moved = f"{before} -> {promotion['to_version']}" if before else f"-> {promotion['to_version']}"
    click.echo(f"{promotion['model']}@{promotion['alias']}: {moved} ({promotion['outcome']})")
    _print_report(promotion.get("report") or {})


@contextmanager
def _refusal_report() -> Iterator[None]:
    """A refused promotion also shows the gate's report; the CLI's boundary prints the error."""
    try:
        yield
    except ApiError as error:
        if error.body.get("report"):
            click.echo("The gate refused the promotion:", err=True)
            _print_report(error.body["report"])
        raise


@click.command()
@click.argument("model", metavar="TEAM/NAME")
@click.argument("version", type=int)
@click.option("--to", "alias", default="production", show_default=True, help="Environment alias.")
@click.option("--force", is_flag=True, help="Owners: move the alias even if the gate fails.")
@click.option("--reason", default="", help="Why (required with --force; audited).")
@json_option
def promote(model: str, version: int, alias: str, force: bool, reason: str, as_json: bool) -> None:
    """Move MODEL's alias to VERSION if it passes the gate (signature, champion)."""
    with Client() as client, _refusal_report():
        promotion = client.promote(model, version, alias, force=force, reason=reason)
    _print_json(promotion) if as_json else _print_promotion(promotion)


@click.command()
@click.argument("model", metavar="TEAM/NAME")
@click.option("--env", "alias", default="production", show_default=True, help="Alias to roll back.")
@click.option("--reason", default="", help="Why (audited).")
@json_option
def rollback(model: str, alias: str, reason: str, as_json: bool) -> None:
    """Return MODEL's alias to the version it held before its last promotion (no gate)."""
    with Client() as client:
        promotion = client.rollback(model, alias, reason)
    _print_json(promotion) if as_json else _print_promotion(promotion)


@click.command()
@click.argument("model", metavar="TEAM/NAME")
@json_option
def promotions(model: str, as_json: bool) -> None:
    """Promotion attempts of MODEL, newest first, with their gate reports."""
    with Client() as client:
        rows = client.promotions(model)
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['created_at'][:19]}  {row['actor'] or '-':10}  ", nl=False)
        _print_promotion(row)


@click.command()
@click.argument("model", metavar="TEAM/NAME")
@click.option("--metric", help="roc_auc, accuracy, f1, log_loss, rmse, mae or r2.")
@click.option("--tolerance", type=float, help="How much worse than the holder is allowed.")
@click.option("--evaluate-on", metavar="TEAM/NAME:VERSION", help="Evaluation data set version.")
@click.option("--label-column", help="The data set's label column (default target).")
@click.option("--max-batch", "max_batch_size", type=int, help="Serving: rows per micro-batch.")
@click.option("--max-wait-ms", type=float, help="Serving: how long a batch waits for more.")
@json_option
def gate(model: str, as_json: bool, **changes: Any) -> None:
    """Show MODEL's promotion gate and serving settings; with options, change them (owners)."""
    with Client() as client:
        settings = client.gate(model, **changes)
    if as_json:
        _print_json(settings)
        return
    for key, value in settings.items():
        click.echo(f"{key:15} {value if value not in (None, '') else '-'}")


@click.command()
@click.option(
    "--models",
    default="",
    metavar="TEAM/NAME[,…]",
    help="Models to serve; NAME=TEAM/NAME serves one under another name.",
)
@click.option(
    "--all",
    "follow_registry",
    is_flag=True,
    help="Serve every model with the alias, following promotions without a restart.",
)
@click.option("--team", default=None, help="With --all: only this team's models.")
@click.option(
    "--env",
    "alias",
    default="production",
    show_default=True,
    help="The alias each model is served from.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--poll-seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="How often aliases are re-read (Redis announcements also wake it).",
)
@click.option(
    "--memory-budget-mb",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Unload least recently used models beyond this (0: keep all loaded).",
)
def serve(
    models: str,
    follow_registry: bool,
    team: str | None,
    alias: str,
    host: str,
    port: int,
    workers: int,
    poll_seconds: float,
    memory_budget_mb: float,
) -> None:
    """Serve the models' alias versions over KServe V2 and JSON, swapping on promotion.

    With --all, every model that has the alias is served (as NAME, or TEAM/NAME when teams
    share a name; TEAM/NAME always works): a model promoted to it is served within
    --poll-seconds (at once when Redis announces it), one that loses it stops being served.
    """
    from modelyard.serving.server import ServeOptions, build_app, prepare_metrics_directory

    names = [m.strip() for m in models.split(",") if m.strip()]
    _check_choice(names, follow_registry, team)
    options = ServeOptions(
        names,
        alias,
        host,
        port,
        workers,
        poll_seconds,
        memory_budget_mb,
        follow_registry,
        team,
    )
    prepare_metrics_directory(workers)
    from modelyard.cli.operate import django_setup

    django_setup()
    from modelyard.serving.server import run

    app = build_app(options, recorder=_prediction_log())  # a ServeError is one line (Boundary)
    _print_fleet(app.fleet)
    click.echo(f"Serving on http://{host}:{port} ({workers} worker(s)); /v2/health/ready")
    run(options, app)


def _check_choice(names: list[str], follow_registry: bool, team: str | None) -> None:
    if follow_registry == bool(names):
        raise click.UsageError("Pass either --models TEAM/NAME[,…] or --all (not both).")
    if team is not None and not follow_registry:
        raise click.UsageError("--team goes with --all (it picks that team's models).")


def _print_fleet(fleet: Any, shown: int = 50) -> None:
    """One line per model, the first `shown` of them (a fleet may hold thousands)."""
    slots = list(fleet.slots.values())
    for slot in slots[:shown]:
        status = slot.status()
        if status["version"] is not None:
            state = f"version {status['version']} ({status['flavor']})"
        elif status["cold"]:
            state = "cold (loads on its first request)"
        else:
            state = f"NOT READY: {status['error']}"
        click.echo(f"{slot.name}: {slot.ref}@{fleet.alias} {state}")
    if len(slots) > shown:
        click.echo(f"… and {len(slots) - shown} more models (GET /v1/models lists them all).")
    if fleet.following is not None:
        scope = f"team {fleet.following.team}" if fleet.following.team else "every team"
        click.echo(f"Following the '{fleet.alias}' alias of {scope}: promotions join the fleet.")


def _prediction_log() -> Any:
    """The monitoring app's prediction log when MODELYARD_PREDICTION_LOG is on."""
    from django.conf import settings

    if not settings.PREDICTION_LOG:
        return None
    from modelyard.monitoring.log import PredictionLog

    return PredictionLog.from_settings()


def register(group: click.Group) -> None:
    for command in (promote, rollback, promotions, gate, serve):
        group.add_command(command)
