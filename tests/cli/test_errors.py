"""What goes wrong says what was wrong and what to do: one message, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import kombu.exceptions
import pytest
import redis

from modelyard.cli.main import expected_error_message
from modelyard.client import Client
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


def test_missing_token_says_how_to_sign_in(cli: Cli) -> None:
    env = {**cli.env("alice"), "MODELYARD_TOKEN": None}

    result = invoke("models", "list", env=env)

    assert result.exit_code == 1
    assert f"sign in with `modelyard login {cli.url}`" in result.output
    assert "MODELYARD_TOKEN" in result.output


def test_invalid_token_says_it_is_not_valid(cli: Cli) -> None:
    """One was sent: "Not signed in" sent its user looking for a missing setting."""
    result = invoke("models", "list", env={**cli.env("alice"), "MODELYARD_TOKEN": "my_wrong"})

    assert result.exit_code == 1
    assert "The API token sent is not valid" in result.output
    assert "Not signed in" not in result.output


def test_no_token_at_all_is_not_signed_in(cli: Cli) -> None:
    with httpx.Client() as http:
        body = http.get(f"{cli.url}/api/v1/models").json()

    assert body["message"].startswith("Not signed in: send `Authorization: Bearer <token>`")


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


# --- one error boundary: every command group, the server (or database) down -----------------


def closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


API_COMMANDS = [
    ("teams", "list"),
    ("teams", "create", "green"),
    ("models", "list"),
    ("models", "show", "red/churn"),
    ("models", "alias", "red/churn", "canary", "1"),
    ("datasets", "versions", "red/customers"),
    ("featuresets", "list"),
    ("models", "register", "red/churn", "{model}"),
    ("artifacts", "download", "red/churn:1", "{tmp}/out"),
    ("promote", "red/churn", "2"),
    ("rollback", "red/churn"),
    ("promotions", "red/churn"),
    ("gate", "red/churn"),
    ("score", "red/churn@production", "--input", "{model}", "--output", "{tmp}/scored"),
    ("apply", "-f", "{project}"),
    ("runs", "list"),
    ("runs", "show", "1"),
    ("runs", "start", "red/churn", "train"),
    ("runs", "cancel", "1"),
    ("runs", "rerun", "1"),
    ("events", "send", "clicks.arrived"),
]


@pytest.mark.parametrize("command", API_COMMANDS, ids=" ".join)
def test_every_api_command_says_one_line_when_the_server_is_down(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    files = {
        "tmp": str(tmp_path),
        "model": str(write(tmp_path / "model.bin", b"x")),
        "project": str(write(tmp_path / "modelyard.yaml", b"project: red/churn\n")),
    }
    env = {"MODELYARD_URL": url, "MODELYARD_TOKEN": "my_x", "MODELYARD_HOME": str(tmp_path)}

    result = invoke(*(part.format(**files) for part in command), env=env)

    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: Cannot reach modelyard at {url}")


IN_PROCESS_COMMANDS = [
    ("lifecycle", "scan", "--dry-run"),
    ("lifecycle", "report"),
    ("lifecycle", "keep", "red/churn:1"),
    ("lifecycle", "policy", "list"),
    ("token", "create", "alice"),
    ("users", "create", "zed"),
    ("migrate",),
    ("beat",),
    ("serve", "--models", "red/churn"),
    ("serve", "--all"),
]


def test_every_in_process_command_says_one_line_when_the_database_is_down(
    tmp_path: Path,
) -> None:
    """Operator commands talk to the database, not the API: its absence is their server down.
    They run as real processes, since this one already has Django set up."""
    database = f"postgresql://postgres@127.0.0.1:{closed_port()}/modelyard"
    env = {
        **os.environ,
        "MODELYARD_HOME": str(tmp_path),
        "MODELYARD_DATABASE_URL": database,
        "DJANGO_SETTINGS_MODULE": "modelyard.settings",
    }
    processes = {
        command: subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli.main", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in IN_PROCESS_COMMANDS
    }

    for command, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, (command, stderr)
        assert stdout == "", (command, stdout)
        assert stderr.count("\n") == 1, (command, stderr)
        assert stderr.startswith("Error: The database failed ("), (command, stderr)
        assert "MODELYARD_DATABASE_URL" in stderr


def test_a_bad_setting_is_one_line_too(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MODELYARD_HOME": str(tmp_path),
        "MODELYARD_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "MODELYARD_DEBUG": "maybe",
    }

    done = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", "lifecycle", "report"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1
    assert (
        done.stderr
        == "Error: MODELYARD_DEBUG='maybe' is not a boolean; use one of true/false, 1/0, yes/no.\n"
    )


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug, not a user's mistake")

    monkeypatch.setattr(Client, "teams", broken)
    env = {"MODELYARD_URL": "http://127.0.0.1:1", "MODELYARD_TOKEN": "my_x"}

    result = invoke("teams", "list", env={**env, "MODELYARD_HOME": str(tmp_path)})

    assert isinstance(result.exception, KeyError)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            redis.ConnectionError("Error 111 connecting to 127.0.0.1:1.\nConnection refused."),
            "Redis failed (Error 111 connecting to 127.0.0.1:1. Connection refused.). "
            "Check MODELYARD_REDIS_URL and that Redis is running.",
        ),
        (
            kombu.exceptions.OperationalError("[Errno 111] Connection refused"),
            "The broker failed ([Errno 111] Connection refused). Check MODELYARD_BROKER_URL "
            "and that it is running.",
        ),
        (ConnectionRefusedError(111, "Connection refused"), "[Errno 111] Connection refused"),
        (KeyError("x"), None),
    ],
)
def test_services_used_in_process_fail_in_one_line(error: Exception, line: str | None) -> None:
    assert expected_error_message(error) == line


@pytest.mark.django_db
def test_a_token_for_an_unknown_user_says_how_to_create_the_user(tmp_path: Path) -> None:
    result = invoke("token", "create", "nobody", env={"MODELYARD_HOME": str(tmp_path)})

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "Create it with `modelyard users create`." in result.stderr
