"""Operator commands for declared stores: where modelyard may read and delete for teams.

Like `users` and `token`, they run against the configured database (MODELYARD_DATABASE_URL).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

import click

from modelyard.cli.operate import django_setup

T = TypeVar("T")


def _run(action: Callable[[], T]) -> T:
    from modelyard.lib.errors import ModelyardError

    try:
        return action()
    except ModelyardError as error:
        raise click.ClickException(error.message) from None


@click.group()
def stores() -> None:
    """Declared stores: where teams may register by reference and modelyard may delete."""


@stores.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stores_list(as_json: bool) -> None:
    """The artifact root, the stores MODELYARD_STORES declares and those staff declared."""
    django_setup()
    from modelyard.registry.stores import current_rules

    rules = current_rules()
    if as_json:
        click.echo(json.dumps([_rule_row(rule) for rule in rules], indent=2))
        return
    for rule in rules:
        teams = _teams(rule)
        shown = teams if isinstance(teams, str) else ",".join(teams) or "(none)"
        ident = f"#{rule.store_id}" if rule.store_id else rule.source
        delete = "delete" if rule.deletable else "no delete"
        click.echo(f"{ident:<15} {rule.uri}  teams: {shown}  {delete}")


def _teams(rule: Any) -> str | list[str]:
    if rule.per_team:
        return "each its own folder"
    return "all" if rule.teams is None else sorted(rule.teams)


def _rule_row(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.store_id,
        "uri": rule.uri,
        "teams": _teams(rule),
        "allow_delete": rule.deletable,
        "source": rule.source,
    }


@stores.command("add")
@click.argument("uri")
@click.option("--team", "team_names", multiple=True, help="A team that may use it (repeat).")
@click.option("--all-teams", is_flag=True, help="Every team may use it.")
@click.option("--delete", "allow_delete", is_flag=True, help="modelyard may delete there.")
@click.option("--description", default="")
def stores_add(
    uri: str, team_names: tuple[str, ...], all_teams: bool, allow_delete: bool, description: str
) -> None:
    """Declare URI (file:///data/ml/, s3://lake/models/, hive://host:10000/ml_db) a store."""
    if all_teams == bool(team_names):
        raise click.UsageError("Give --all-teams or at least one --team, not both.")
    django_setup()
    from modelyard.accounts.services import get_team
    from modelyard.registry.stores import declare_store

    def declare() -> Any:
        teams = None if all_teams else [get_team(name) for name in team_names]
        return declare_store(
            "cli", uri, teams=teams, allow_delete=allow_delete, description=description
        )

    store = _run(declare)
    click.echo(f"Declared store #{store.pk}: {store.uri}.")


@stores.command("remove")
@click.argument("store_id", type=int)
def stores_remove(store_id: int) -> None:
    """Remove declared store STORE_ID (see `stores list`); its versions stay, unreadable."""
    django_setup()
    from modelyard.registry.stores import remove_store

    _run(lambda: remove_store("cli", store_id))
    click.echo(f"Removed store #{store_id}.")


@stores.command("orphans")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stores_orphans(as_json: bool) -> None:
    """Artifacts outside every store their team may use (registered before stores were
    declared). modelyard never reads them for users nor deletes them; declare a store
    that holds them, or clean them up by hand."""
    django_setup()
    from modelyard.registry.stores import orphans

    found = list(orphans())
    if as_json:
        click.echo(json.dumps([asdict(orphan) for orphan in found], indent=2))
        return
    for orphan in found:
        click.echo(f"{orphan.kind} {orphan.ref} {orphan.artifact}: {orphan.uri}")
    click.echo(f"{len(found)} artifact(s) outside the declared stores.")


def register(group: Any) -> None:
    group.add_command(stores)
