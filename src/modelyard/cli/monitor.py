"""`modelyard monitor status | alerts | ack | add | feedback` (API clients)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from modelyard.cli.catalog import _print_json, json_option
from modelyard.client import Client, ClientError, Json


@click.group()
def monitor() -> None:
    """Monitors of served models: their status, their alerts, feedback labels."""


@monitor.command()
@click.argument("model", metavar="TEAM/NAME")
@json_option
def status(model: str, as_json: bool) -> None:
    """Each monitor of MODEL: its last evaluation and its open alert."""
    with Client() as client:
        monitors = client.monitors(model)
    if as_json:
        _print_json(monitors)
        return
    if not monitors:
        click.echo(f"{model} has no monitors; add one with `modelyard monitor add`.")
    for item in monitors:
        last = item["last"] or {}
        alert = item["alert"]
        state = f"ALERT {alert['id']} {alert['state']}" if alert else "no alert"
        value = last.get("value")
        shown = f"{value:.4g}" if isinstance(value, float) else "-"
        outcome = last.get("outcome", "not evaluated yet")
        click.echo(
            f"{item['name']} ({item['kind']} @{item['alias']}): {outcome}, value {shown} "
            f"(threshold {item['threshold']}), {state}"
        )


@monitor.command()
@click.argument("model", metavar="TEAM/NAME")
@click.option("--state", type=click.Choice(["firing", "acknowledged", "resolved"]))
@json_option
def alerts(model: str, state: str | None, as_json: bool) -> None:
    """MODEL's alerts, newest first."""
    with Client() as client:
        rows = client.alerts(model, state)
    if as_json:
        _print_json(rows)
        return
    for alert in rows:
        click.echo(_alert_line(alert))


@monitor.command()
@click.argument("alert_id", type=int, metavar="ALERT")
@json_option
def ack(alert_id: int, as_json: bool) -> None:
    """Acknowledge a firing alert (members of the model's team)."""
    with Client() as client:
        alert = client.acknowledge_alert(alert_id)
    _print_json(alert) if as_json else click.echo(_alert_line(alert))


@monitor.command()
@click.argument("model", metavar="TEAM/NAME")
@click.argument("name")
@click.option(
    "--kind", type=click.Choice(["drift", "errors", "latency", "live_metric"]), required=True
)
@click.option(
    "--threshold",
    type=float,
    required=True,
    help="drift: PSI; errors: share of requests (0-1); latency: p99 in milliseconds; "
    "live_metric: how much worse than the promotion score.",
)
@click.option("--alias", default="production", show_default=True)
@click.option("--window", "window_seconds", type=int, help="Seconds of traffic evaluated.")
@click.option("--min-samples", type=int, help="Fewer rows (drift) or requests: no verdict.")
@click.option("--ks-pvalue", type=float, help="drift: KS p-value a drifting feature is below.")
@click.option("--cooldown", "cooldown_seconds", type=int, help="Seconds before firing again.")
@click.option(
    "--react",
    "reactions",
    multiple=True,
    type=click.Choice(["notify", "rollback", "event"]),
    help="What a firing alert does; repeat for several.",
)
@click.option(
    "--webhook",
    "webhook_url",
    help="notify: also post alerts to this URL (Slack-compatible JSON).",
)
@json_option
def add(model: str, name: str, as_json: bool, **fields: object) -> None:
    """Declare (or replace) MODEL's monitor NAME."""
    fields["reactions"] = list(fields["reactions"])  # type: ignore[call-overload]
    with Client() as client:
        declared = client.declare_monitor(model, name, **fields)
    _print_json(declared) if as_json else click.echo(f"Monitor {name} of {model} declared.")


@monitor.command()
@click.argument("model", metavar="TEAM/NAME")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def feedback(model: str, source: Path, as_json: bool) -> None:
    """Send true labels from SOURCE: a JSON object {request id: label}."""
    try:
        labels = json.loads(source.read_text())
    except ValueError as error:
        raise ClientError(f"{source} is not JSON ({error}); write {{request id: label}}.") from None
    if not isinstance(labels, dict):
        raise ClientError(f"{source} holds no JSON object; write {{request id: label}}.")
    with Client() as client:
        received = client.send_feedback(model, labels)
    _print_json(received) if as_json else click.echo(f"{received['received']} label(s) sent.")


@monitor.command()
@click.argument("team")
@click.argument("url")
@json_option
def webhook(team: str, url: str, as_json: bool) -> None:
    """Post every alert of TEAM's monitors that notify to URL (owners; '' for none)."""
    with Client() as client:
        answer = client.set_team_webhook(team, url)
    shown = answer["url"] or "nowhere"
    _print_json(answer) if as_json else click.echo(f"Alerts of team {team} now post to {shown}.")


def _alert_line(alert: Json) -> str:
    rolled = ", rolled back" if alert["rolled_back"] else ""
    return (
        f"{alert['id']}  {alert['state']:<12} {alert['model']} {alert['monitor']} "
        f"since {alert['fired_at']}{rolled}"
    )


def register(group: click.Group) -> None:
    group.add_command(monitor)
