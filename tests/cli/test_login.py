"""The CLI works from any folder: `modelyard login` saves the server and a token in the user's
config folder; with nothing configured, every command says so in one line and creates nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from modelyard.cli.main import cli as modelyard
from tests.cli.test_errors import API_COMMANDS
from tests.fixtures.cli import Cli, invoke, write

NO_SETTINGS: dict[str, str | None] = {"MODELYARD_URL": None, "MODELYARD_TOKEN": None}


def login(*args: str, token: str) -> Result:
    return CliRunner().invoke(
        modelyard, ["login", *args, "--token-stdin"], input=token + "\n", env=NO_SETTINGS
    )


def test_login_saves_the_server_and_token_privately(cli: Cli, own_config_folder: Path) -> None:
    result = login(cli.url, token=cli.token("alice"))

    assert result.exit_code == 0, result.output
    saved = own_config_folder / "modelyard" / "logins.json"
    assert f"Signed in to {cli.url} as alice; saved to {saved}." in result.stdout
    assert json.loads(saved.read_text()) == {
        "default": cli.url,
        "tokens": {cli.url: cli.token("alice")},
    }
    assert saved.stat().st_mode & 0o777 == 0o600


def test_commands_then_work_without_settings(cli: Cli) -> None:
    login(cli.url, token=cli.token("alice"))

    result = invoke("teams", "list", "--json", env=NO_SETTINGS)

    assert result.exit_code == 0, result.output
    assert "red" in result.stdout


def test_the_environment_wins_over_the_login(cli: Cli) -> None:
    login(cli.url, token=cli.token("alice"))

    result = invoke("models", "list", env={"MODELYARD_URL": cli.url, "MODELYARD_TOKEN": "my_no"})

    assert "The API token sent is not valid" in result.stderr


def test_a_saved_token_is_never_sent_to_another_server(cli: Cli) -> None:
    login(cli.url, token=cli.token("alice"))
    other = "http://127.0.0.1:1"

    result = invoke("models", "list", env={"MODELYARD_URL": other, "MODELYARD_TOKEN": None})

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: No API token for {other}: sign in with")


def test_a_bad_token_is_not_saved(cli: Cli, own_config_folder: Path) -> None:
    result = login(cli.url, token="my_wrong")

    assert result.exit_code == 1
    assert "The API token sent is not valid" in result.stderr
    assert not (own_config_folder / "modelyard" / "logins.json").exists()


def _bare_environment(config_folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "DJANGO_"))}
    return {**env, "XDG_CONFIG_HOME": str(config_folder)}


def test_client_commands_in_an_empty_folder_say_one_line_and_create_nothing(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "elsewhere"
    files = {
        "tmp": str(tmp_path),
        "model": str(write(tmp_path / "model.bin", b"x")),
        "project": str(write(tmp_path / "modelyard.yaml", b"project: red/churn\n")),
    }
    folder.mkdir()
    env = _bare_environment(tmp_path / "config")
    processes = {
        command: subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli.main", *(p.format(**files) for p in command)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in API_COMMANDS
    }

    for command, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, (command, stderr)
        assert stdout == "", (command, stdout)
        assert stderr.count("\n") == 1, (command, stderr)
        assert stderr.startswith(
            "Error: No API token for http://127.0.0.1:8000: sign in with "
            "`modelyard login http://127.0.0.1:8000`"
        ), (command, stderr)
    assert list(folder.iterdir()) == []


OPERATOR_COMMANDS = [
    ("token", "create", "alice", "--save"),
    ("users", "create", "zed"),
    ("users", "set-password", "admin", "--password-stdin"),
    ("users", "deactivate", "zed"),
    ("lifecycle", "report"),
    ("stores", "list"),
]


def test_operator_commands_on_no_database_say_so_and_create_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = _bare_environment(tmp_path / "config")
    processes = {
        command: subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli.main", *command],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in OPERATOR_COMMANDS
    }

    for command, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, (command, stderr)
        assert stdout == "", (command, stdout)
        assert stderr == (
            f"Error: No modelyard database at {folder / '.modelyard' / 'modelyard.sqlite3'}: "
            "run this where `modelyard up` runs, or set MODELYARD_HOME (or "
            "MODELYARD_DATABASE_URL) to the installation's; `modelyard migrate` creates a new "
            "one.\n"
        ), command
    assert list(folder.iterdir()) == []
