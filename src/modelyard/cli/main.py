"""The `modelyard` command.

Operator commands (up, server, worker, beat, migrate, token, users) run in-process against
the configured database. Catalog commands (teams, models, datasets, featuresets,
artifacts) are clients of the REST API, so they work the same from a laptop against a
remote server: they read MODELYARD_URL and MODELYARD_TOKEN, else the server and token that
`modelyard login` (or `modelyard up`) saved in the user's config folder; they never create a
database or a home folder.

Every command runs inside one error boundary (`Boundary`): an error the user can fix or wait
out ends as one line on stderr and exit code 1, whatever group the command belongs to.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from modelyard.cli import (
    catalog,
    deploy,
    features,
    jobs,
    lifecycle,
    login,
    monitor,
    operate,
    predict,
    score,
    stores,
)
from modelyard.client import ApiError, ClientError
from modelyard.config import ConfigError
from modelyard.lib.errors import ModelyardError
from modelyard.storage.errors import StorageError

# What a user can act on: the server's refusal or absence, bad settings, a store that failed.
# ConnectionError and TimeoutError cover the in-process commands' own sockets (Redis, SMTP).
_EXPECTED = (ClientError, ModelyardError, StorageError, ConfigError, ConnectionError, TimeoutError)


class Boundary(click.Group):
    """The CLI's one error boundary: expected errors become one line, anything else is a bug
    and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            message = expected_error_message(error)
            if message is None:
                raise
            raise click.ClickException(message) from None


def expected_error_message(error: Exception) -> str | None:
    """The line to show for an expected error, or None when the error is a bug."""
    message: str | None
    if isinstance(error, ApiError | ModelyardError):
        message = error.message
    elif isinstance(error, _EXPECTED):
        message = str(error)
    else:
        message = _service_message(error)
    # One line, even for a database driver's multi-line message.
    return " ".join(message.split()) if message is not None else None


def _service_message(error: Exception) -> str | None:
    """The database, Redis or the broker (used in-process by operator commands) failing.
    A library is asked only once it is loaded: until then the error cannot be one of its."""
    for library, explain in _SERVICES:
        if library in sys.modules and (message := explain(error)) is not None:
            return message
    return None


def _database_message(error: Exception) -> str | None:
    from django.core.exceptions import ImproperlyConfigured
    from django.db import InterfaceError, OperationalError

    if isinstance(error, ImproperlyConfigured):
        return str(error)
    if not isinstance(error, OperationalError | InterfaceError):
        return None
    return (
        f"The database failed ({error}). Check MODELYARD_DATABASE_URL, that the database "
        "server is running, and that `modelyard migrate` has run."
    )


def _redis_message(error: Exception) -> str | None:
    from redis import RedisError

    if not isinstance(error, RedisError):
        return None
    return f"Redis failed ({error}). Check MODELYARD_REDIS_URL and that Redis is running."


def _broker_message(error: Exception) -> str | None:
    from kombu.exceptions import OperationalError

    if not isinstance(error, OperationalError):
        return None
    return f"The broker failed ({error}). Check MODELYARD_BROKER_URL and that it is running."


_SERVICES: tuple[tuple[str, Callable[[Exception], str | None]], ...] = (
    ("django.db", _database_message),
    ("redis", _redis_message),
    ("kombu", _broker_message),
)


@click.group(cls=Boundary, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelyard")
def cli() -> None:
    """modelyard: keep models and data sets in order, from registration to retirement."""


operate.register(cli)
login.register(cli)
catalog.register(cli)
lifecycle.register(cli)
deploy.register(cli)
score.register(cli)
predict.register(cli)
jobs.register(cli)
stores.register(cli)
features.register(cli)
monitor.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
