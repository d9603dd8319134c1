"""Listing assets and versions, with --json and the filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.cli import Cli, write


@pytest.fixture
def catalog(cli: Cli, tmp_path: Path) -> Cli:
    model = str(write(tmp_path / "m.bin", b"x"))
    with cli.client() as client:
        client.create_asset("model", "red", "churn", tags={"domain": "crm"})
        client.create_asset("model", "red", "fraud", tags={"domain": "risk"})
    cli(
        "models", "register", "red/churn", model, "--created-at", "90d", "--last-accessed-at", "90d"
    )
    cli("models", "register", "red/churn", model)
    cli("models", "register", "red/fraud", model)
    cli("models", "register", "blue/churn", model, user="carol")
    return cli


def test_list_filters_as_json_and_table(catalog: Cli) -> None:
    def refs(*options: str) -> list[str]:
        return [asset["ref"] for asset in catalog.json("models", "list", *options)]

    assert refs() == ["blue/churn", "red/churn", "red/fraud"]
    assert refs("--team", "red") == ["red/churn", "red/fraud"]
    assert refs("--name", "chu") == ["blue/churn", "red/churn"]
    assert refs("--tag", "domain=risk") == ["red/fraud"]
    assert refs("--tag", "domain") == ["red/churn", "red/fraud"]
    assert catalog.json("datasets", "list") == []

    output = catalog("models", "list", "--team", "red").stdout

    assert "red/churn" in output
    assert "red/fraud" in output
    assert "blue/churn" not in output


def test_versions_filters_as_json_and_table(catalog: Cli) -> None:
    def numbers(*options: str) -> list[int]:
        return [v["version"] for v in catalog.json("models", "versions", "red/churn", *options)]

    assert numbers() == [2, 1]
    assert numbers("--stale-since", "30d") == [1]
    assert numbers("--stale-since", "2000-01-01") == []
    assert numbers("--state", "active") == [2, 1]
    assert numbers("--state", "deleted") == []

    output = catalog("models", "versions", "red/churn").stdout

    rows = [line.split() for line in output.splitlines()[1:] if line.strip()]
    assert [row[0] for row in rows] == ["2", "1"]
    assert all(row[1] == "active" for row in rows)


def test_client_reads_every_page(catalog: Cli) -> None:
    with catalog.client() as client:
        client.page_size = 2
        assets = client.list_assets("model")
        versions = client.list_all_versions(kind="model")

    assert [a["ref"] for a in assets] == ["blue/churn", "red/churn", "red/fraud"]
    assert len(versions) == 4
