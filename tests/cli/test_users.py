"""`modelyard users set-password` and `users deactivate`: an operator can reset a password
(the admin's included, whose generated one scrolled away) and stop someone signing in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from django.contrib.auth.models import User

from modelyard.audit.models import AuditEvent
from modelyard.cli.main import cli as modelyard
from tests.fixtures.cli import Cli, invoke

pytestmark = pytest.mark.django_db


def run(*args: str, home: Path, stdin: str = "") -> Result:
    return CliRunner().invoke(modelyard, list(args), input=stdin, env={"MODELYARD_HOME": str(home)})


def test_set_password_from_stdin(teams: dict[str, Any], tmp_path: Path) -> None:
    result = run(
        "users", "set-password", "bob", "--password-stdin", home=tmp_path, stdin="a long secret\n"
    )

    assert result.exit_code == 0, result.output
    assert User.objects.get(username="bob").check_password("a long secret")
    event = AuditEvent.objects.get(action="user.password_set")
    assert event.details == {"user": "bob"}


def test_set_password_asks_twice(teams: dict[str, Any], tmp_path: Path) -> None:
    stdin = "a long secret\na long secret\n"

    result = run("users", "set-password", "bob", home=tmp_path, stdin=stdin)

    assert result.exit_code == 0, result.output
    assert "a long secret" not in result.output  # hidden while typed
    assert User.objects.get(username="bob").check_password("a long secret")


def test_a_short_password_is_refused_in_one_line(teams: dict[str, Any], tmp_path: Path) -> None:
    result = run("users", "set-password", "bob", "--password-stdin", home=tmp_path, stdin="short\n")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Password not set: This password is too short.")
    assert result.stderr.count("\n") == 1
    assert not User.objects.get(username="bob").check_password("short")


def test_setting_the_admins_password_forgets_the_generated_one(tmp_path: Path) -> None:
    User.objects.create_superuser("admin", "admin@example.com", "generated-one")
    (tmp_path / "admin_password").write_text("generated-one\n")

    result = run(
        "users", "set-password", "admin", "--password-stdin", home=tmp_path, stdin="mine and long\n"
    )

    assert result.exit_code == 0, result.output
    assert not (tmp_path / "admin_password").exists()


def test_unknown_user(tmp_path: Path) -> None:
    result = run(
        "users", "set-password", "nobody", "--password-stdin", home=tmp_path, stdin="x" * 12
    )

    assert result.exit_code == 1
    assert result.stderr == "Error: No user named 'nobody'.\n"


def test_deactivated_user_is_refused_by_the_api(cli: Cli, tmp_path: Path) -> None:
    token_env = cli.env("bob")

    result = run("users", "deactivate", "bob", home=tmp_path)

    assert result.exit_code == 0, result.output
    assert not User.objects.get(username="bob").is_active
    assert AuditEvent.objects.filter(action="user.deactivated", details={"user": "bob"}).exists()
    refused = invoke("teams", "list", env=token_env)
    assert refused.exit_code == 1
    assert "The API token sent is not valid" in refused.stderr
    again = run("users", "deactivate", "bob", home=tmp_path)
    assert again.stderr == "Error: 'bob' is already deactivated.\n"
