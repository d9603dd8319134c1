"""Catalog commands: teams, models, datasets, featuresets and artifacts.

They are HTTP clients of the REST API (through `modelyard.client`), so they behave the same
against a laptop's `modelyard up` and a shared server. Tables and progress bars are for
people; `--json` prints the API's own bodies for scripts, and progress goes to stderr so
it never mixes with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import rich.progress
from rich.console import Console
from rich.table import Table

from modelyard.cli.signatures import SIGNATURE_FROM_HELP, SIGNATURE_HELP, merged
from modelyard.client import KINDS, Client, Json, Progress, Upstream
from modelyard.lib.formats import binary_size, number

LABELS = {"model": "models", "dataset": "data sets", "featureset": "feature sets"}
NOUNS = {"model": "Model", "dataset": "Data set", "featureset": "Feature set"}
# LifecycleState's values, spelled out: importing the model would need Django set up.
STATES = ("active", "noticed", "final_notice", "deleting", "deleted")
_AGO = re.compile(r"^(\d+)([hdw])$")
_AGO_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
WIDE = 10_000  # columns for --wide: more than any row needs


# --- option types ------------------------------------------------------------------------


def moment(text: str) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise), or an age such as 30d, 12h or 2w."""
    ago = _AGO.match(text.strip())
    if ago:
        return datetime.now(UTC) - timedelta(**{_AGO_UNITS[ago[2]]: int(ago[1])})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO time (2024-05-01, 2024-05-01T12:00Z) "
            "nor an age (30d, 12h, 2w)."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    # A callback rather than a ParamType subclass: ParamType is generic only from click 8.4.
    try:
        return moment(value) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


def _pairs(convert: Callable[[str, str], Any]) -> Callable[..., dict[str, Any]]:
    """A callback turning repeated KEY=VALUE options into a dict, values run through convert."""

    def callback(
        ctx: click.Context, param: click.Parameter, values: Sequence[str]
    ) -> dict[str, Any]:
        pairs: dict[str, Any] = {}
        for item in values:
            key, has_value, value = item.partition("=")
            if not key or not has_value:
                raise click.BadParameter(f"{item!r} is not KEY=VALUE.", ctx, param)
            try:
                pairs[key] = convert(key, value)
            except ValueError as error:
                raise click.BadParameter(str(error), ctx, param) from None
        return pairs

    return callback


def _text(key: str, value: str) -> str:
    return value


def _number(key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"metric {key}={value!r}: the value must be a number.") from None


def _json_or_text(key: str, value: str) -> Any:
    # Numbers, booleans and lists keep their type (C=1.0 is 1.0); anything else is text.
    try:
        return json.loads(value)
    except ValueError:
        return value


def _lineage(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> list[Upstream]:
    relation = (param.name or "").removeprefix("lineage_")
    links = []
    for item in values:
        kind, _, ref = item.partition(":")
        if kind not in KINDS or not re.search(r":\d+$", ref):
            raise click.BadParameter(
                f"{item!r}: write KIND:TEAM/NAME:VERSION with KIND one of "
                f"{', '.join(KINDS)}, e.g. dataset:red/customers:3.",
                ctx,
                param,
            )
        links.append(Upstream(kind, ref, relation))
    return links


def _signature(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any]:
    parsed = _json_option(ctx, param, value)
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise click.BadParameter("the signature must be a JSON object.", ctx, param)
    return parsed


def _example(ctx: click.Context, param: click.Parameter, value: str | None) -> list[Any] | None:
    parsed = _json_option(ctx, param, value)
    if parsed is not None and not isinstance(parsed, list):
        raise click.BadParameter(
            "the example must be a JSON list of rows, e.g. [[5.1, 3.5]] or "
            '[{"sepal_length": 5.1, "sepal_width": 3.5}].',
            ctx,
            param,
        )
    return parsed


def _json_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """JSON given inline or as @path; None when the option is absent."""
    if not value:
        return None
    try:
        text = Path(value[1:]).read_text() if value.startswith("@") else value
        parsed = json.loads(text)
    except OSError as error:
        message = f"cannot read {value[1:]}: {error.strerror}."
        raise click.BadParameter(message, ctx, param) from None
    except ValueError as error:
        raise click.BadParameter(f"not valid JSON ({error}).", ctx, param) from None
    return parsed


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
wide_option = click.option(
    "--wide", is_flag=True, help="One line per row, however wide (default: fit the terminal)."
)


# --- output ------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _console(wide: bool = False) -> Console:
    # Tables fit the terminal (80 columns when it is not one); --wide lets rows run long.
    return Console(highlight=False, width=WIDE if wide else None)


def _when(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "-"


def _pairs_text(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={_value_text(value)}" for key, value in values.items()) or "-"


def _value_text(value: Any) -> str:
    """Numbers as `lib.formats` writes them (rows=569, not rows=569.0), the rest as is."""
    if isinstance(value, float):
        return number(value, grouped=False)
    return str(value)


def _table(*columns: str, title: str | None = None) -> Table:
    """A table whose first column (the names people copy) stays whole at 80 columns: the
    other columns wrap to make room."""
    table = Table(*columns, title=title, title_justify="left", box=None, header_style="bold")
    table.columns[0].no_wrap = True
    for column in table.columns[1:]:
        column.overflow = "fold"  # wrapped, even inside a word, never cut with "…"
    return table


def _fields(rows: Sequence[tuple[str, Any]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, str(value) if value not in (None, "") else "-")
    return grid


@contextmanager
def _transfer(description: str) -> Iterator[Progress]:
    """A bytes progress bar on stderr; silent when stderr is not a terminal (logs, pipes)."""
    console = Console(stderr=True)
    columns = (
        rich.progress.TextColumn("{task.description}"),
        rich.progress.BarColumn(),
        rich.progress.DownloadColumn(),
        rich.progress.TransferSpeedColumn(),
        rich.progress.TimeRemainingColumn(),
    )
    with rich.progress.Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


# --- teams -------------------------------------------------------------------------------


@click.group()
def teams() -> None:
    """Teams own assets: members register versions, owners move aliases and members."""


@teams.command("list")
@json_option
def teams_list(as_json: bool) -> None:
    """List every team."""
    with Client() as client:
        found = client.teams()
    if as_json:
        _print_json(found)
        return
    table = _table("TEAM", "DISPLAY NAME", "CONTACT", "OWNERS", "MEMBERS")
    for team in found:
        owners = [m["username"] for m in team["members"] if m["role"] == "owner"]
        table.add_row(
            team["name"],
            team["display_name"],
            team["contact_email"],
            ", ".join(owners),
            str(len(team["members"])),
        )
    _console().print(table)


@teams.command("show")
@click.argument("team")
@json_option
def teams_show(team: str, as_json: bool) -> None:
    """Show TEAM and its members."""
    with Client() as client:
        body = client.get_team(team)
    if as_json:
        _print_json(body)
        return
    _print_team(body)


def _print_team(team: Json) -> None:
    console = _console()
    console.print(
        _fields(
            [
                ("Team", team["name"]),
                ("Display name", team["display_name"]),
                ("Contact", team["contact_email"]),
                ("Created", _when(team["created_at"])),
            ]
        )
    )
    members = _table("USER", "ROLE", "EMAIL", "ACTIVE", title="Members")
    for member in team["members"]:
        members.add_row(
            member["username"], member["role"], member["email"], "yes" if member["active"] else "no"
        )
    console.print(members)


@teams.command("create")
@click.argument("name")
@click.option("--display-name", default="", help="Human-friendly name.")
@click.option("--contact-email", default="", help="Where lifecycle notices go.")
def teams_create(name: str, display_name: str, contact_email: str) -> None:
    """Create team NAME, with you as its first owner."""
    with Client() as client:
        client.create_team(name, display_name=display_name, contact_email=contact_email)
    click.echo(f"Created team {name}; you are its owner.")


@teams.command("add-member")
@click.argument("team")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["member", "owner"]),
    default="member",
    show_default=True,
    help="Owners may also move aliases and manage members.",
)
def teams_add_member(team: str, username: str, role: str) -> None:
    """Add USERNAME to TEAM, or change their role (team owners only)."""
    with Client() as client:
        client.set_member(team, username, role)
    click.echo(f"{username} is now {'an owner' if role == 'owner' else 'a member'} of {team}.")


@teams.command("remove-member")
@click.argument("team")
@click.argument("username")
def teams_remove_member(team: str, username: str) -> None:
    """Remove USERNAME from TEAM (team owners only)."""
    with Client() as client:
        client.remove_member(team, username)
    click.echo(f"Removed {username} from {team}.")


# --- models, datasets, featuresets -------------------------------------------------------


def kind_group(kind: str) -> click.Group:
    """One group per asset kind; the kinds share every command, as they share the API."""
    group = click.Group(KINDS[kind], help=f"Register, find and inspect {LABELS[kind]}.")
    for build in (
        _register_command,
        _list_command,
        _show_command,
        _versions_command,
        _alias_command,
        _delete_command,
    ):
        group.add_command(build(kind))
    return group


def _register_command(kind: str) -> click.Command:
    @click.command("register")
    @click.argument("ref")
    @click.argument("paths_or_uris", metavar="PATH_OR_URI...", nargs=-1, required=True)
    @click.option("--flavor", default="", help="Format of the bytes, e.g. sklearn, onnx, csv.")
    @click.option("--description", default="")
    @click.option(
        "--metric",
        "metrics",
        multiple=True,
        metavar="KEY=NUMBER",
        callback=_pairs(_number),
        help="Repeatable, e.g. --metric auc=0.91.",
    )
    @click.option(
        "--param",
        "params",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_pairs(_json_or_text),
        help="Repeatable; JSON values keep their type.",
    )
    @click.option(
        "--tag",
        "tags",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_pairs(_text),
        help="Repeatable, e.g. --tag stage=dev.",
    )
    @click.option(
        "--trained-on",
        "lineage_trained_on",
        multiple=True,
        callback=_lineage,
        metavar="KIND:TEAM/NAME:V",
        help="Repeatable, e.g. dataset:red/customers:3.",
    )
    @click.option(
        "--evaluated-on",
        "lineage_evaluated_on",
        multiple=True,
        callback=_lineage,
        metavar="KIND:TEAM/NAME:V",
        help="Repeatable.",
    )
    @click.option(
        "--derived-from",
        "lineage_derived_from",
        multiple=True,
        callback=_lineage,
        metavar="KIND:TEAM/NAME:V",
        help="Repeatable.",
    )
    @click.option("--signature", callback=_signature, metavar="JSON|@FILE", help=SIGNATURE_HELP)
    @click.option(
        "--signature-from",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        metavar="FILE",
        help=SIGNATURE_FROM_HELP,
    )
    @click.option(
        "--example",
        "input_example",
        callback=_example,
        metavar="JSON|@FILE",
        help="Models: a few input rows the promotion gate predicts on.",
    )
    @click.option(
        "--created-at",
        callback=_moment,
        metavar="ISO|AGE",
        help="When onboarding history; default now.",
    )
    @click.option(
        "--last-accessed-at",
        callback=_moment,
        metavar="ISO|AGE",
        help="Last known use, for history.",
    )
    @json_option
    def register(ref: str, paths_or_uris: tuple[str, ...], as_json: bool, **metadata: Any) -> None:
        """Register a new version of REF (TEAM/NAME) from files, directories or URIs.

        Local files and every file under a local directory are uploaded; URIs
        (file://, s3://, ...) are registered where they are, without copying. The asset
        is created on first registration.
        """
        metadata["signature"] = merged(kind, metadata["signature"], metadata.pop("signature_from"))
        lineage = [
            *metadata.pop("lineage_trained_on"),
            *metadata.pop("lineage_evaluated_on"),
            *metadata.pop("lineage_derived_from"),
        ]
        with Client() as client, _transfer(f"Uploading to {ref}") as progress:
            version = client.register_version(
                kind, ref, paths_or_uris, lineage=lineage, progress=progress, **metadata
            )
        if as_json:
            _print_json(version)
            return
        size = binary_size(version["size_bytes"])
        click.echo(f"Registered {version['ref']}: {len(version['artifacts'])} artifact(s), {size}.")

    return register


def _list_command(kind: str) -> click.Command:
    @click.command("list", help=f"List {LABELS[kind]}, filtered by team, name or tag.")
    @click.option("--team", help="Only this team's.")
    @click.option("--name", help="Names containing this text.")
    @click.option("--tag", metavar="KEY[=VALUE]", help="Tagged with KEY (and VALUE).")
    @json_option
    @wide_option
    def list_assets(
        team: str | None, name: str | None, tag: str | None, as_json: bool, wide: bool
    ) -> None:
        with Client() as client:
            assets = client.list_assets(kind, team=team, name=name, tag=tag)
        if as_json:
            _print_json(assets)
            return
        table = _table("REF", "LATEST", "ALIASES", "TAGS", "DESCRIPTION")
        for asset in assets:
            table.add_row(
                asset["ref"],
                str(asset["latest_version"]),
                _pairs_text(asset["aliases"]),
                _pairs_text(asset["tags"]),
                asset["description"],
            )
        _console(wide).print(table)

    return list_assets


def _show_command(kind: str) -> click.Command:
    @click.command("show")
    @click.argument("ref")
    @json_option
    def show(ref: str, as_json: bool) -> None:
        """Show REF: TEAM/NAME with its aliases, or a version (TEAM/NAME:V, TEAM/NAME@ALIAS)
        with its metrics, artifacts and lineage."""
        names_version = ":" in ref or "@" in ref
        with Client() as client:
            body = client.get_version(kind, ref) if names_version else client.get_asset(kind, ref)
        if as_json:
            _print_json(body)
        elif names_version:
            _print_version(body)
        else:
            _print_asset(body)

    return show


def _print_asset(asset: Json) -> None:
    console = _console()
    console.print(
        _fields(
            [
                (NOUNS[asset["kind"]], asset["ref"]),
                ("Description", asset["description"]),
                ("Tags", _pairs_text(asset["tags"])),
                ("Latest version", asset["latest_version"]),
                ("Created", _when(asset["created_at"])),
            ]
        )
    )
    aliases = _table("ALIAS", "VERSION", title="Aliases")
    for alias, version in sorted(asset["aliases"].items()):
        aliases.add_row(alias, f"{asset['ref']}:{version}")
    console.print(aliases if asset["aliases"] else "No aliases.")


def _print_version(version: Json) -> None:
    console = _console()
    console.print(
        _fields(
            [
                ("Version", version["ref"]),
                ("State", version["lifecycle_state"]),
                ("Aliases", ", ".join(version["aliases"])),
                ("Protected by", "; ".join(version.get("protected_by", [])) or "nothing"),
                ("Flavor", version["flavor"]),
                ("Description", version["description"]),
                ("Tags", _pairs_text(version["tags"])),
                ("Params", _pairs_text(version["params"])),
                ("Size", binary_size(version["size_bytes"])),
                ("Created", _when(version["created_at"])),
                ("Last used", _when(version["last_accessed_at"])),
                ("Registered by", version["created_by"]),
                *_deletion_fields(version),
            ]
        )
    )
    _print_metrics(console, version["metrics"])
    _print_artifacts(console, version["artifacts"])
    _print_lineage(console, version)


def _deletion_fields(version: Json) -> list[tuple[str, Any]]:
    """When the lifecycle deletes the version, or why its deletion has not finished."""
    fields: list[tuple[str, Any]] = []
    if version["delete_on"]:
        fields.append(("Deletes on", _when(version["delete_on"])))
    if version["lifecycle_state"] == "deleted":
        fields.append(("Deleted", _when(version["deleted_at"])))
    if version["deletion_error"]:
        fields.append(("Deletion error", version["deletion_error"]))
    if version["deletion_attempts"]:
        fields.append(("Failed attempts", version["deletion_attempts"]))
    if version["next_deletion_attempt_at"]:
        fields.append(("Next attempt", _when(version["next_deletion_attempt_at"])))
    return fields


def _print_metrics(console: Console, metrics: Mapping[str, float]) -> None:
    table = _table("METRIC", "VALUE", title="Metrics")
    for name, value in sorted(metrics.items()):
        table.add_row(name, number(value, grouped=False))
    if metrics:
        console.print(table)


def _print_artifacts(console: Console, artifacts: Sequence[Json]) -> None:
    table = _table("ARTIFACT", "SIZE", "STORED", "URI", title="Artifacts")
    table.columns[-1].overflow = "fold"  # a cut URI is useless; people copy them
    for artifact in artifacts:
        stored = "uploaded" if artifact["uploaded"] else "referenced"
        table.add_row(
            artifact["name"], binary_size(artifact["size_bytes"]), stored, artifact["uri"]
        )
    console.print(table)


def _print_lineage(console: Console, version: Json) -> None:
    table = _table("DIRECTION", "KIND", "REF", "RELATION", title="Lineage")
    for direction in ("upstream", "downstream"):
        for edge in version[direction]:
            table.add_row(direction, edge["kind"], edge["ref"], edge["relation"])
    if version["upstream"] or version["downstream"]:
        console.print(table)


def _versions_command(kind: str) -> click.Command:
    @click.command("versions")
    @click.argument("ref")
    @click.option(
        "--stale-since",
        callback=_moment,
        metavar="ISO|AGE",
        help="Unused since: ISO time or age (30d).",
    )
    @click.option("--state", type=click.Choice(STATES), help="Lifecycle state.")
    @json_option
    @wide_option
    def versions(
        ref: str, stale_since: datetime | None, state: str | None, as_json: bool, wide: bool
    ) -> None:
        """List the versions of REF (TEAM/NAME), newest first."""
        with Client() as client:
            found = client.list_versions(kind, ref, stale_since=stale_since, state=state)
        if as_json:
            _print_json(found)
            return
        # A deletion date only when one is planned: at 80 columns the metrics need the room.
        deleting = any(version["delete_on"] for version in found)
        headers = ["VERSION", "STATE", "FLAVOR", "METRICS", "SIZE", "CREATED", "LAST USED"]
        table = _table(*headers, *(["DELETES ON"] if deleting else []))
        for column in table.columns[4:]:  # sizes and days stay whole; metrics wrap instead
            column.no_wrap = True
        for version in found:
            when = [version["created_at"], version["last_accessed_at"]]
            when += [version["delete_on"]] if deleting else []
            table.add_row(
                str(version["version"]),
                _state_text(version),
                version["flavor"],
                _pairs_text(version["metrics"]),
                binary_size(version["size_bytes"]),
                *(_when(moment)[:10] for moment in when),
            )
        _console(wide).print(table)
        failing = [v for v in found if v["deletion_error"]]
        for version in failing:
            click.echo(
                f"v{version['version']}: deletion failed {version['deletion_attempts']} time(s), "
                f"next attempt {_when(version['next_deletion_attempt_at'])}: "
                f"{version['deletion_error']}"
            )

    return versions


def _state_text(version: Json) -> str:
    state: str = version["lifecycle_state"]
    return f"{state} (failing)" if version["deletion_error"] else state


def _alias_command(kind: str) -> click.Command:
    @click.command("alias")
    @click.argument("ref")
    @click.argument("alias")
    @click.argument("version", type=click.IntRange(min=1))
    @click.option("--reason", default="", help="Why; kept in the audit trail.")
    def set_alias(ref: str, alias: str, version: int, reason: str) -> None:
        """Point ALIAS of REF (TEAM/NAME) at VERSION, e.g. `alias red/churn production 3`
        (team owners only)."""
        with Client() as client:
            client.set_alias(kind, ref, alias, version, reason=reason)
        click.echo(f"{ref}@{alias} now points at {ref}:{version}.")

    return set_alias


def _delete_command(kind: str) -> click.Command:
    @click.command("delete")
    @click.argument("ref")
    @click.option("--reason", required=True, help="Why; kept in the audit trail.")
    @json_option
    def delete(ref: str, reason: str, as_json: bool) -> None:
        """Delete version REF (TEAM/NAME:VERSION; team owners only): a worker removes its
        bytes, its record stays as a tombstone. Versions an alias, a pin or a hold protects,
        or that others were made from, are refused with the reason."""
        with Client() as client:
            body = client.delete_version(kind, ref, reason)
        if as_json:
            _print_json(body)
            return
        if body["lifecycle_state"] == "deleted":
            click.echo(f"Deleted {body['ref']}; its record stays.")
        else:
            click.echo(f"Deleting {body['ref']}: a worker removes its bytes; its record stays.")

    return delete


# --- artifacts ---------------------------------------------------------------------------


@click.group()
def artifacts() -> None:
    """The bytes of a version."""


@artifacts.command("download")
@click.argument("ref")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(list(KINDS)), default="model", show_default=True)
def artifacts_download(ref: str, dest: Path, kind: str) -> None:
    """Download every file of REF (TEAM/NAME:V, TEAM/NAME@ALIAS or TEAM/NAME for the
    latest) into DEST, keeping their paths."""
    with Client() as client, _transfer(f"Downloading {ref}") as progress:
        paths = client.download(kind, ref, dest, progress=progress)
    size = binary_size(sum(path.stat().st_size for path in paths))
    click.echo(f"Downloaded {len(paths)} file(s), {size}, of {ref} into {dest}.")


def register(group: click.Group) -> None:
    group.add_command(teams)
    for kind in KINDS:
        group.add_command(kind_group(kind))
    group.add_command(artifacts)
