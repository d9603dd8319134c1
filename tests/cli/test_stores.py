"""Operator commands: `modelyard stores list|add|remove|orphans` and `users create`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from django.contrib.auth.models import User

from modelyard.cli.main import cli as modelyard
from modelyard.registry.models import Artifact, AssetVersion, DeclaredStore

pytestmark = pytest.mark.django_db


def run(*args: str) -> Result:
    return CliRunner().invoke(modelyard, list(args))


def test_add_list_and_remove_a_store(teams: Any, artifact_root: Path, tmp_path: Path) -> None:
    lake = (tmp_path / "lake").as_uri()
    added = run("stores", "add", lake, "--team", "red", "--team", "blue", "--delete")
    assert added.exit_code == 0, added.output
    store = DeclaredStore.objects.get()
    assert store.uri == lake + "/"
    assert sorted(t.name for t in store.teams.all()) == ["blue", "red"]
    assert store.allow_delete is True

    listed = json.loads(run("stores", "list", "--json").output)
    assert listed[0] == {
        "id": None,
        "uri": artifact_root.as_uri() + "/",
        "teams": "each its own folder",
        "allow_delete": True,
        "source": "artifact root",
    }
    assert listed[1]["uri"] == lake + "/"
    assert listed[1]["teams"] == ["blue", "red"]

    assert run("stores", "remove", str(store.pk)).exit_code == 0
    assert not DeclaredStore.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("file:///", "--all-teams"), "holds MODELYARD_HOME"),
        (("ftp://host/x/", "--all-teams"), "unknown scheme"),
        (("s3://lake/models/",), "Give --all-teams or at least one --team"),
        (("s3://lake/models/", "--team", "nosuch"), "No team named 'nosuch'"),
    ],
)
def test_add_refuses_what_cannot_be_a_store(
    teams: Any, artifact_root: Path, args: tuple[str, ...], message: str
) -> None:
    result = run("stores", "add", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert not DeclaredStore.objects.exists()


def test_a_store_inside_modelyard_home_is_refused(teams: Any, settings: Any) -> None:
    result = run("stores", "add", (Path(settings.HOME) / "cache").as_uri(), "--all-teams")
    assert result.exit_code != 0
    assert "inside MODELYARD_HOME" in result.output


def test_orphans_lists_rows_outside_every_store(alice: Any, artifact_root: Path) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x"}, {})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"y"}, {})
    old = AssetVersion.objects.get(version=1)
    Artifact.objects.filter(version=old).update(uri="file:///etc/passwd")

    result = run("stores", "orphans", "--json")
    assert result.exit_code == 0, result.output
    (orphan,) = json.loads(result.output)
    assert orphan["ref"] == "red/churn:1"
    assert orphan["uri"] == "file:///etc/passwd"
    assert "not under a declared store" in orphan["reason"]
    assert "1 artifact(s)" in run("stores", "orphans").output


@pytest.mark.parametrize("name", ["a/b", "<script>", "x>y", "Alice", "_x", "red\n", ""])
def test_users_create_refuses_names_outside_the_pattern(db: None, name: str) -> None:
    result = run("users", "create", name)
    assert result.exit_code != 0
    assert "is not a valid user name" in result.output
    assert "lowercase letters, digits" in result.output
    assert not User.objects.filter(username=name).exists()


def test_users_create_accepts_a_plain_name(db: None) -> None:
    result = run("users", "create", "dana.k", "--staff")
    assert result.exit_code == 0, result.output
    assert User.objects.get(username="dana.k").is_staff
