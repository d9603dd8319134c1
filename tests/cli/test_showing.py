"""One way to show things: names whole at 80 columns, integers as integers, sizes in binary
units as the web and the emails write them; and `delete`, which the CLI lacked."""

from __future__ import annotations

from pathlib import Path

from modelyard.registry.models import AssetVersion, LifecycleState
from tests.fixtures.cli import Cli, write

NAME = "cancer-classifier-with-a-long-name"
LONG_NAME = f"red/{NAME}"
TAGS = {"domain": "oncology", "owner": "the-research-team"}


def test_names_stay_whole_at_80_columns(cli: Cli, tmp_path: Path) -> None:
    """What the demo showed as `demo/cancer-cla…`: the other columns wrap instead."""
    description = "Predicts malignant vs benign tumours"
    with cli.client() as client:
        client.create_asset("model", "red", NAME, description=description, tags=TAGS)
    cli("models", "register", LONG_NAME, str(write(tmp_path / "m.bin", b"x")))
    with cli.client() as client:
        client.set_alias("model", LONG_NAME, "candidate", 1)
        client.set_alias("model", LONG_NAME, "champion", 1)

    output = cli("models", "list").stdout
    wide = cli("models", "list", "--wide").stdout

    assert LONG_NAME in output
    assert "…" not in output
    assert all(len(line) <= 80 for line in output.splitlines())
    assert description not in output  # wrapped
    assert description in wide
    assert len(wide.splitlines()) == 2  # the header and one line for the model


def test_counts_print_as_integers_and_sizes_in_binary_units(cli: Cli, tmp_path: Path) -> None:
    model = str(write(tmp_path / "m.bin", b"x" * 196_608))
    cli("models", "register", "red/churn", model, "--metric", "rows=569", "--metric", "auc=0.97")

    shown = cli("models", "show", "red/churn:1").stdout
    versions = cli("models", "versions", "red/churn").stdout

    assert "rows=569" in versions  # key order is the database's (JSONB sorts keys)
    assert "569.0" not in shown + versions
    assert "192.0 KiB" in shown
    assert "192.0 KiB" in versions
    assert "kB" not in shown + versions


def test_delete_a_version_with_a_reason(cli: Cli, tmp_path: Path) -> None:
    model = str(write(tmp_path / "m.bin", b"x"))
    cli("models", "register", "red/churn", model)
    cli("models", "register", "red/churn", model)

    output = cli("models", "delete", "red/churn:1", "--reason", "superseded").stdout

    # The test settings run the deletion task at once; a real worker takes a moment.
    assert output == "Deleted red/churn:1; its record stays.\n"
    version = AssetVersion.objects.get(asset__name="churn", version=1)
    assert version.lifecycle_state == LifecycleState.DELETED


def test_delete_needs_a_version_number_and_a_reason(cli: Cli) -> None:
    assert "Name the version to delete: red/churn:VERSION" in cli.fails(
        "models", "delete", "red/churn@production", "--reason", "x"
    )
    result = cli.run("models", "delete", "red/churn:1")
    assert result.exit_code == 2
    assert "Missing option '--reason'" in result.output


def test_only_owners_delete(cli: Cli, tmp_path: Path) -> None:
    cli("models", "register", "red/churn", str(write(tmp_path / "m.bin", b"x")))

    output = cli.fails("models", "delete", "red/churn:1", "--reason", "mine", user="mallory")

    assert "red/churn" in output
