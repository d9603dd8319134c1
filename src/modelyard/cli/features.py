"""`modelyard features …`: push raw events and read online features (clients of the API),
and build point-in-time training sets (in-process, like the operator commands: it reads the
raw event log under the artifact root)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from modelyard.cli.catalog import _print_json, json_option
from modelyard.client import Client, Json

BATCH = 10_000


@click.group()
def features() -> None:
    """The feature store: push events, read online features, build training sets."""


@features.command("push")
@click.argument("source", metavar="TEAM/SOURCE")
@click.argument(
    "path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--batch-size", default=BATCH, show_default=True, type=click.IntRange(1, 100_000))
def push(source: str, path: Path, batch_size: int) -> None:
    """Send the events in FILE (.json list, .ndjson/.jsonl, or .csv) to a feature source.

    Each batch is all or nothing: a bad row refuses its batch, naming the row and field."""
    events = read_events(path)
    accepted = duplicates = 0
    with Client() as client:
        for first in range(0, len(events), batch_size):
            try:
                result = client.push_events(source, events[first : first + batch_size])
            except Exception:
                if first:
                    click.echo(f"The first {first} events were sent; the rest were not.", err=True)
                raise
            accepted += result["accepted"]
            duplicates += result["duplicates"]
    click.echo(f"Sent {len(events)} events to {source}: {accepted} new, {duplicates} duplicates.")


def read_events(path: Path) -> list[Json]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import pyarrow.csv

        return [_plain_row(row) for row in pyarrow.csv.read_csv(path).to_pylist()]
    text = path.read_text()
    if suffix in (".ndjson", ".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if suffix != ".json":
        raise click.ClickException(f"{path}: give a .json, .ndjson, .jsonl or .csv file.")
    events = json.loads(text)
    if not isinstance(events, list):
        raise click.ClickException(f"{path} must hold a JSON list of event objects.")
    return events


def _plain_row(row: dict[str, Any]) -> Json:
    """A CSV row as JSON values: times as ISO 8601 strings."""
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in row.items()}


@features.command("online")
@click.argument("view", metavar="TEAM/VIEW")
@click.argument("keys", nargs=-1, required=True, metavar="KEY=VALUE...")
@json_option
def online(view: str, keys: tuple[str, ...], as_json: bool) -> None:
    """A view's online features for one entity, e.g. `user_id=42`."""
    entity: dict[str, str] = {}
    for pair in keys:
        name, equals, value = pair.partition("=")
        if not equals:
            raise click.ClickException(f"{pair!r} is not KEY=VALUE.")
        entity[name] = value
    with Client() as client:
        result = client.online_entity(view, entity)
    if as_json:
        _print_json(result)
        return
    for name, value in result["results"][0]["features"].items():
        click.echo(f"{name}: {value}")
    click.echo(f"(version {result['version']}, freshness {result['freshness_seconds']} s)")


@features.command("training-set")
@click.option(
    "--entities",
    "entities_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Parquet or CSV: the views' key columns, a time column, anything else (a label).",
)
@click.option("--features", "wanted", required=True, metavar="TEAM/VIEW[:FEATURE],…")
@click.option("--output", required=True, metavar="URI", help="Where to write the Parquet file.")
@click.option("--time-column", default="timestamp", show_default=True)
@click.option(
    "--register",
    "register_as",
    metavar="TEAM/NAME",
    help="Register the output as a new version of this data set (through the API, as the "
    "signed-in user), with lineage to the feature set versions used.",
)
def training_set(
    entities_path: Path, wanted: str, output: str, time_column: str, register_as: str | None
) -> None:
    """Each entity row with the features as they were at its time (never later)."""
    from modelyard.cli.operate import django_setup

    django_setup()
    from modelyard import storage
    from modelyard.features import offline, services

    uri = output if "://" in output else storage.path_to_uri(Path(output).resolve())
    chosen = services.selections(wanted)
    rows = offline.write_training_set(entities_path, time_column, chosen, uri)
    click.echo(f"Wrote {rows} rows to {uri}.")
    if register_as:
        version = _register_training_set(register_as, uri, chosen)
        click.echo(f"Registered data set {register_as} version {version}.")


def _register_training_set(ref: str, uri: str, chosen: list[Any]) -> int:
    """A data set version of the training set at `uri`, derived from each view's feature
    set version (so the views' owners see who depends on them)."""
    from modelyard import storage
    from modelyard.client import Upstream

    lineage = [
        Upstream("featureset", f"{s.view.ref}:{s.view.version.version}", "derived_from")
        for s in chosen
        if s.view.version is not None
    ]
    local = storage.parse_uri(uri).scheme == "file"
    source: str | Path = storage.uri_to_path(uri) if local else uri
    with Client() as client:
        registered = client.register_version(
            "dataset",
            ref,
            [source],
            description="Point-in-time training set of " + ", ".join(s.view.ref for s in chosen),
            flavor="parquet",
            lineage=lineage,
        )
    return int(registered["version"])


@features.command("mirror")
@click.option("--from", "environment", required=True, help="The environment to copy from.")
@click.option("--to", "target", help="This deployment's environment (checked, not chosen).")
@click.option("--sample", default="100%", show_default=True, help="Share of entities, e.g. 10%.")
@click.option("--since", metavar="DURATION", help="Only events this recent, e.g. 30d.")
@click.option("--team", "teams", multiple=True, help="Only these teams' sources (repeatable).")
def mirror_command(
    environment: str, target: str | None, sample: str, since: str | None, teams: tuple[str, ...]
) -> None:
    """Replace this deployment's raw event logs by another environment's (a deterministic
    sample of entities) and rebuild the online store from them. Run on the receiving
    deployment, as its operator."""
    from modelyard.cli.operate import django_setup

    django_setup()
    from modelyard.features import mirror

    mirror.check_target(target)
    result = mirror.mirror(environment, _scope(sample, since), list(teams) or None)
    for source, count in result.sources.items():
        click.echo(f"{source}: {count} events from {environment}")
    click.echo(f"Rebuilt the online store of {len(result.views)} view(s).")


@features.command("diff")
@click.option("--against", "environment", required=True, help="The environment to compare to.")
@click.option("--sample", default="100%", show_default=True, help="As given to mirror.")
@click.option("--since", metavar="DURATION", help="As given to mirror.")
@click.option("--team", "teams", multiple=True, help="Only these teams' views (repeatable).")
@click.option("--entities", "limit", default=1000, show_default=True, type=click.IntRange(1))
@json_option
def diff_command(
    environment: str,
    sample: str,
    since: str | None,
    teams: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Compare this deployment's online features with another environment's for the same
    entities, now; exits 1 on any difference."""
    from modelyard.cli.operate import django_setup

    django_setup()
    from modelyard.features import mirror

    result = mirror.diff(environment, _scope(sample, since), list(teams) or None, limit)
    if as_json:
        _print_json(
            {
                "entities": result.entities,
                "values": result.values,
                "differences": [d.__dict__ for d in result.differences],
            }
        )
    else:
        for found in result.differences[:20]:
            click.echo(
                f"{found.view} {found.entity} {found.feature}: here {found.here!r}, "
                f"{environment} {found.there!r}"
            )
        click.echo(
            f"{len(result.differences)} difference(s) in {result.values} values of "
            f"{result.entities} entities."
        )
    if result.differences:
        raise SystemExit(1)


def _scope(sample: str, since: str | None) -> Any:
    from modelyard.features import mirror
    from modelyard.features.spec import parse_duration

    seconds = None
    if since is not None:
        seconds = parse_duration(since)
        if not seconds:
            raise click.ClickException(f"--since {since!r} must be a duration like 30d or 12h.")
    return mirror.Scope(mirror.parse_percent(sample), seconds)


def register(group: click.Group) -> None:
    group.add_command(features)
