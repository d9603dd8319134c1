"""What goes wrong says what was wrong and what to do: one message, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.fixtures.cli import Cli, invoke, write


def test_unknown_model(cli: Cli) -> None:
    output = cli.fails("models", "show", "red/nope")

    assert "No model named 'red/nope'" in output


def test_unknown_version(cli: Cli, tmp_path: Path) -> None:
    cli("models", "register", "red/churn", str(write(tmp_path / "m", b"x")))

    output = cli.fails("models", "show", "red/churn:7")

    assert "has no version 7 (latest is 1)" in output


def test_asset_without_versions_has_no_latest(cli: Cli, tmp_path: Path) -> None:
    with cli.client() as client:
        client.create_asset("model", "red", "empty")

    output = cli.fails("artifacts", "download", "red/empty", str(tmp_path / "out"))

    assert "red/empty has no versions yet" in output


def test_non_member_cannot_create_in_a_team(cli: Cli, tmp_path: Path) -> None:
    output = cli.fails(
        "models", "register", "red/churn", str(write(tmp_path / "m", b"x")), user="mallory"
    )

    assert "not a member of team 'red'" in output


def test_non_member_cannot_add_versions(cli: Cli, tmp_path: Path) -> None:
    model = str(write(tmp_path / "m", b"x"))
    cli("models", "register", "red/churn", model)

    output = cli.fails("models", "register", "red/churn", model, user="mallory")

    assert "not a member of team 'red'" in output


def test_missing_token_says_how_to_get_one(cli: Cli) -> None:
    env = {**cli.env("alice"), "MODELYARD_TOKEN": None}

    result = invoke("models", "list", env=env)

    assert result.exit_code == 1
    assert "modelyard token create USERNAME --save" in result.output
    assert "MODELYARD_TOKEN" in result.output


def test_saved_token_is_used(cli: Cli) -> None:
    (cli.home / "token").write_text(cli.token("alice") + "\n")
    env = {**cli.env("alice"), "MODELYARD_TOKEN": None}

    result = invoke("teams", "list", "--json", env=env)

    assert result.exit_code == 0, result.output


def test_invalid_token(cli: Cli) -> None:
    result = invoke("models", "list", env={**cli.env("alice"), "MODELYARD_TOKEN": "my_wrong"})

    assert result.exit_code == 1
    assert "Not signed in" in result.output


def test_server_down_names_the_url(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    result = invoke(
        "models",
        "list",
        env={"MODELYARD_URL": url, "MODELYARD_TOKEN": "my_x", "MODELYARD_HOME": str(tmp_path)},
    )

    assert result.exit_code == 1
    assert f"Cannot reach modelyard at {url}" in result.output
    assert "modelyard up" in result.output


def test_bad_reference(cli: Cli) -> None:
    output = cli.fails("models", "show", "churn")

    assert "Cannot read the reference 'churn'" in output


def test_versions_needs_the_asset_not_a_version(cli: Cli) -> None:
    output = cli.fails("models", "versions", "red/churn:1")

    assert "red/churn (without :VERSION or @ALIAS)" in output


def test_metric_must_be_a_number(cli: Cli, tmp_path: Path) -> None:
    result = cli.run(
        "models", "register", "red/churn", str(write(tmp_path / "m", b"x")), "--metric", "auc=high"
    )

    assert result.exit_code == 2
    assert "the value must be a number" in result.output


def test_bad_lineage_option(cli: Cli, tmp_path: Path) -> None:
    result = cli.run(
        "models",
        "register",
        "red/churn",
        str(write(tmp_path / "m", b"x")),
        "--trained-on",
        "red/customers",
    )

    assert result.exit_code == 2
    assert "KIND:TEAM/NAME:VERSION" in result.output


def test_unknown_lineage_version_is_the_servers_message(cli: Cli, tmp_path: Path) -> None:
    output = cli.fails(
        "models",
        "register",
        "red/churn",
        str(write(tmp_path / "m", b"x")),
        "--trained-on",
        "dataset:red/customers:1",
    )

    assert "Lineage: No data set named 'red/customers'" in output


def test_missing_local_path(cli: Cli, tmp_path: Path) -> None:
    output = cli.fails("models", "register", "red/churn", str(tmp_path / "nope.bin"))

    assert "neither a file nor a directory" in output


def test_repeated_artifact_names_are_refused_before_uploading(cli: Cli, tmp_path: Path) -> None:
    one = write(tmp_path / "a" / "model.bin", b"1")
    two = write(tmp_path / "b" / "model.bin", b"2")

    output = cli.fails("models", "register", "red/churn", str(one), str(two))

    assert "share the name(s) model.bin" in output
