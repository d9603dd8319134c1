"""`modelyard login`: sign this user's CLI in to a server, from any folder.

The URL and token go to the user's own config folder (not MODELYARD_HOME, which belongs to an
installation), so catalog commands find them wherever they are run; MODELYARD_URL and
MODELYARD_TOKEN still win when set.
"""

from __future__ import annotations

import sys

import click

from modelyard import config
from modelyard.client import Client, configured_url


@click.command()
@click.argument("url", required=False)
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input.")
def login(url: str | None, token_stdin: bool) -> None:
    """Save URL (default: MODELYARD_URL, or the last server signed in to) and an API token
    in your config folder ($XDG_CONFIG_HOME/modelyard or ~/.config/modelyard, mode 0600).

    The token is asked for (hidden) unless piped with --token-stdin; it is checked against
    the server before it is saved. Get one from your administrator, or on the server's
    machine with `modelyard token create USERNAME`.
    """
    server = (url or configured_url()).rstrip("/")
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = click.prompt("API token", hide_input=True).strip()
    if not token:
        raise click.UsageError("The token is empty; paste the token you were given.")
    with Client(server, token) as client:
        me = client.me()
    path = config.save_login(server, token)
    click.echo(f"Signed in to {server} as {me['username']}; saved to {path}.")


def register(group: click.Group) -> None:
    group.add_command(login)
