"""`modelyard serve` takes either --models or --all, and --team only with --all; each mistake
is one line before anything starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from modelyard.cli.main import cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Pass either --models TEAM/NAME[,…] or --all (not both)."),
        (("--all", "--models", "red/churn"), "Pass either --models TEAM/NAME[,…] or --all"),
        (("--models", "red/churn", "--team", "red"), "--team goes with --all"),
    ],
)
def test_serve_wants_models_or_all(args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(cli, ["serve", *args])

    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
