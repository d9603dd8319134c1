"""Teams and their members from the command line."""

from __future__ import annotations

from typing import Any

from tests.fixtures.cli import Cli


def test_only_staff_create_teams_by_default(cli: Cli) -> None:
    output = cli.fails("teams", "create", "green")
    assert "Only staff can create teams" in output
    assert "MODELYARD_TEAM_CREATION" in output


def test_create_team_and_manage_members(cli: Cli, settings: Any) -> None:
    settings.TEAM_CREATION = "anyone"
    cli("teams", "create", "green", "--display-name", "Green", "--contact-email", "g@example.com")
    cli("teams", "add-member", "green", "bob")
    cli("teams", "add-member", "green", "carol", "--role", "owner")

    team = cli.json("teams", "show", "green")
    assert team["display_name"] == "Green"
    assert {m["username"]: m["role"] for m in team["members"]} == {
        "alice": "owner",
        "bob": "member",
        "carol": "owner",
    }

    cli("teams", "remove-member", "green", "bob")
    members = cli.json("teams", "show", "green")["members"]
    assert [m["username"] for m in members] == ["alice", "carol"]


def test_list_teams(cli: Cli) -> None:
    assert [t["name"] for t in cli.json("teams", "list")] == ["blue", "red"]
    output = cli("teams", "list").stdout
    assert "red" in output
    assert "alice" in output


def test_show_team_for_people(cli: Cli) -> None:
    output = cli("teams", "show", "red").stdout

    assert "alice" in output
    assert "owner" in output
    assert "bob" in output


def test_only_owners_add_members(cli: Cli) -> None:
    output = cli.fails("teams", "add-member", "red", "mallory", user="bob")

    assert "Only owners of team 'red'" in output
