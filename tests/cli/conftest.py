"""The catalog commands against a real HTTP server: pytest-django's live_server.

`cli("models", "list", user="bob")` runs `modelyard models list` as bob, with
MODELYARD_URL pointing at the live server and a fresh token of bob's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modelyard.accounts.tokens import create_token
from modelyard.cli.main import cli as modelyard
from modelyard.client import Client
from modelyard.registry.access import tracker


def invoke(*args: str, env: dict[str, str | None]) -> Result:
    return CliRunner().invoke(modelyard, list(args), env=env)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


class Cli:
    def __init__(self, url: str, users: dict[str, Any], home: Path) -> None:
        self.url = url
        self.users = users
        self.home = home
        self.tokens: dict[str, str] = {}

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.tokens[user] = create_token(self.users[user], "cli-test")[1]
        return self.tokens[user]

    def env(self, user: str) -> dict[str, str | None]:
        return {
            "MODELYARD_URL": self.url,
            "MODELYARD_TOKEN": self.token(user),
            "MODELYARD_HOME": str(self.home),
        }

    def run(self, *args: str, user: str = "alice") -> Result:
        return invoke(*args, env=self.env(user))

    def __call__(self, *args: str, user: str = "alice") -> Result:
        """Run a command that must succeed."""
        result = self.run(*args, user=user)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, user: str = "alice") -> Any:
        return json.loads(self(*args, "--json", user=user).stdout)

    def fails(self, *args: str, user: str = "alice") -> str:
        """Run a command that must fail cleanly (a message, no traceback); return its output."""
        result = self.run(*args, user=user)
        assert result.exit_code != 0, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        return result.output

    def client(self, user: str = "alice") -> Client:
        return Client(self.url, self.token(user))


@pytest.fixture
def cli(
    live_server: Any,
    transactional_db: None,
    teams: dict[str, Any],
    artifact_root: Path,
    tmp_path: Path,
) -> Iterator[Cli]:
    home = tmp_path / "home"
    home.mkdir()
    yield Cli(live_server.url, teams, home)
    # Downloads record accesses in the server's buffer; write them while the tables exist,
    # not at interpreter exit after the test database is gone.
    tracker().flush()
