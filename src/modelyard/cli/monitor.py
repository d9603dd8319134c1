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
    "--kind",
    type=click.Choice(
        ["drift", "prediction_drift", "data_quality", "errors", "latency", "traffic", "live_metric"]
    ),
    required=True,
)
@click.option(
    "--threshold",
    type=float,
    required=True,
    help="drift, prediction_drift: PSI; errors: share of requests (0-1); latency: p99 in "
    "milliseconds; live_metric: how much worse than the promotion score; data_quality: share "
    "of a feature's values missing, mistyped or out of range (0-1); traffic: fewest requests "
    "in the window (1: fires at zero).",
)
@click.option("--alias", default="production", show_default=True)
@click.option("--window", "window_seconds", type=int, help="Seconds of traffic evaluated.")
@click.option("--min-samples", type=int, help="Fewer rows (drift) or requests: no verdict.")
@click.option(
    "--ks-pvalue",
    type=float,
    help="drift: the p-value (KS, chi-square for categories) a drifting column is below.",
)
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
    """Send true labels from SOURCE, in batches of 10,000.

    A .json file holds an object {request id: label} or a list of items
    {"request_id": …, "label": …} / {"keys": {KEY: value}, "time": …, "label": …}; a .csv or
    .parquet file has a `label` column and either `request_id` or `time` (with its offset)
    plus one column per entity key of the model.
    """
    labels = _labels(source)
    with Client() as client:
        received = client.send_feedback(model, labels)
    _print_json(received) if as_json else click.echo(f"{received['received']} label(s) sent.")


@monitor.command(name="log")
@click.argument("model", metavar="TEAM/NAME")
@click.option("--sample-rate", type=click.FloatRange(0, 1), help="Share of predictions logged.")
@click.option(
    "--entity-key",
    "entity_keys",
    multiple=True,
    help="An input column identifying an entity (repeat for several): feedback may then name "
    "predictions by entity and time.",
)
@click.option("--no-entity-keys", is_flag=True, help="Forget the entity keys.")
@json_option
def log_settings(
    model: str,
    sample_rate: float | None,
    entity_keys: tuple[str, ...],
    no_entity_keys: bool,
    as_json: bool,
) -> None:
    """Set MODEL's prediction log: its sample rate and entity keys (members)."""
    keys = [] if no_entity_keys else (list(entity_keys) or None)
    if sample_rate is None and keys is None:
        raise ClientError("Give --sample-rate, --entity-key or --no-entity-keys.")
    with Client() as client:
        settings = client.set_prediction_log(model, sample_rate, keys)
    if as_json:
        _print_json(settings)
        return
    shown = ", ".join(settings["entity_keys"]) or "none"
    click.echo(f"{model}: sample rate {settings['sample_rate']}, entity keys {shown}.")


def _labels(source: Path) -> dict[str, Json] | list[Json]:
    if source.suffix in (".csv", ".parquet"):
        return _table_labels(source)
    try:
        labels = json.loads(source.read_text())
    except ValueError as error:
        raise ClientError(f"{source} is not JSON ({error}); write {{request id: label}}.") from None
    items = isinstance(labels, list) and all(isinstance(item, dict) for item in labels)
    if not isinstance(labels, dict) and not items:
        raise ClientError(
            f"{source} holds no JSON object or list of label objects; write "
            '{request id: label} or [{"keys": {…}, "time": …, "label": …}, …].'
        )
    return labels  # type: ignore[no-any-return]


def _table_labels(source: Path) -> list[Json]:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    try:
        table = pcsv.read_csv(source) if source.suffix == ".csv" else pq.read_table(source)
    except (pa.ArrowInvalid, OSError) as error:
        raise ClientError(f"{source} could not be read: {error}") from None
    columns = table.column_names
    if "label" not in columns or not ("request_id" in columns or "time" in columns):
        raise ClientError(
            f"{source} needs a `label` column and `request_id`, or `time` and the model's "
            f"entity key columns; it has {', '.join(columns)}."
        )
    keys = [c for c in columns if c not in ("label", "request_id", "time")]
    items = []
    for row in table.to_pylist():
        if "request_id" in columns:
            items.append({"request_id": str(row["request_id"]), "label": row["label"]})
            continue
        moment = row["time"]
        text = moment.isoformat() if hasattr(moment, "isoformat") else str(moment)
        item = {"keys": {key: row[key] for key in keys}, "time": text, "label": row["label"]}
        items.append(item)
    return items


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
