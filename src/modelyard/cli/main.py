"""The `modelyard` command.

Operator commands (up, server, worker, beat, migrate, token, users) run in-process against
the configured database. Catalog commands (teams, models, datasets, featuresets,
artifacts) are clients of the REST API, so they work the same from a laptop against a
remote server: they read MODELYARD_URL and MODELYARD_TOKEN (or the token `modelyard up`
saved under MODELYARD_HOME).
"""

from __future__ import annotations

import click

from modelyard.cli import catalog, deploy, jobs, lifecycle, operate, score, stores


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelyard")
def cli() -> None:
    """modelyard: keep models and data sets in order, from registration to retirement."""


operate.register(cli)
catalog.register(cli)
lifecycle.register(cli)
deploy.register(cli)
score.register(cli)
jobs.register(cli)
stores.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
