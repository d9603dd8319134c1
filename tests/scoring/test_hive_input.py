"""`--input hive://host:port/db/table`: a Parquet table scored from the files at its
location (one partition with `--partition`), once the location passes the store check;
on the Spark Thrift Server of the test session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from modelyard.registry.models import AssetVersion
from tests.fixtures.cli import Cli
from tests.fixtures.models import COLUMNS
from tests.scoring.conftest import table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database(hive_cursor: Any) -> Iterator[str]:
    name = f"scoring_{uuid.uuid4().hex[:12]}"
    hive_cursor.execute(f"CREATE DATABASE {name}")
    yield name
    hive_cursor.execute(f"DROP DATABASE IF EXISTS {name} CASCADE")


def partitioned_table(
    cursor: Any, database: str, name: str, location: Path, days: dict[str, np.ndarray]
) -> None:
    """An external Parquet table partitioned by day, its files written here (named as Hive
    names them: no .parquet suffix), each day added as a partition."""
    columns = ", ".join(f"{column} DOUBLE" for column in COLUMNS)
    cursor.execute(
        f"CREATE EXTERNAL TABLE {database}.{name} ({columns}, id BIGINT) "
        f"PARTITIONED BY (day STRING) STORED AS PARQUET LOCATION '{location}'"
    )
    for day, rows in days.items():
        folder = location / f"day={day}"
        folder.mkdir(parents=True)
        pq.write_table(table(rows), folder / "part-00000-c000", row_group_size=200)
        cursor.execute(f"ALTER TABLE {database}.{name} ADD PARTITION (day='{day}')")


def test_scores_one_partition_of_a_hive_table_from_its_files(
    cli: Cli, served_model, hive_server, hive_cursor, database, rows, estimators, tmp_path
) -> None:
    host, port = hive_server
    days = {"2026-11-29": rows[:300], "2026-11-30": rows[300:800]}
    partitioned_table(hive_cursor, database, "visits", tmp_path / "visits", days)
    output = tmp_path / "scores"

    result = cli.json(
        "score",
        "red/churn@production",
        *("--input", f"hive://{host}:{port}/{database}/visits", "--partition", "day=2026-11-30"),
        *("--output", output.as_uri(), "--keep", "id", "--rows-per-part", "200"),
    )

    assert result["rows"] == 500
    assert result["parts_scored"] == 3  # one per row group of 200, 200 and 100 rows
    scored = pq.read_table(output)
    expected = estimators["good"].predict(rows[300:800])
    assert np.array_equal(scored.column("label").to_numpy(), expected)
    assert np.array_equal(scored.column("id").to_numpy(), np.arange(500))


def test_a_table_outside_the_declared_stores_is_refused_before_reading(
    cli: Cli, served_model, hive_server, hive_cursor, database, rows, tmp_path_factory, tmp_path
) -> None:
    host, port = hive_server
    elsewhere = tmp_path_factory.mktemp("undeclared")
    partitioned_table(hive_cursor, database, "secret", elsewhere / "secret", {"a": rows[:10]})
    output = tmp_path / "scores"

    said = cli.fails(
        "score",
        "red/churn@production",
        *("--input", f"hive://{host}:{port}/{database}/secret"),
        *("--output", output.as_uri(), "--register", "red/never"),
    )

    assert "is not under a declared store that team 'red' may use" in said
    assert str(elsewhere / "secret") in said
    assert not output.exists()
    assert not AssetVersion.objects.filter(asset__name="never").exists()


def test_a_table_not_stored_as_parquet_is_named(
    cli: Cli, served_model, hive_server, hive_cursor, database, tmp_path
) -> None:
    host, port = hive_server
    hive_cursor.execute(f"CREATE TABLE {database}.texts (f0 DOUBLE) STORED AS TEXTFILE")

    said = cli.fails(
        "score",
        "red/churn@production",
        *("--input", f"hive://{host}:{port}/{database}/texts"),
        *("--output", (tmp_path / "o").as_uri()),
    )

    assert "modelyard scores Parquet tables" in said
