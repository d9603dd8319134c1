"""`modelyard score --engine spark`: the same scores from Spark in local mode."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.fixtures.cli import Cli

pytestmark = pytest.mark.integration


def test_spark_local_mode_scores_like_the_local_engine(
    cli: Cli, served_model, parquet_dir: Path, rows, estimators, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark")
    output = tmp_path / "spark-scores"

    result = cli.json(
        "score",
        "red/churn@production",
        "--input",
        parquet_dir.as_uri(),
        "--output",
        output.as_uri(),
        "--engine",
        "spark",
        "--spark-master",
        "local[2]",
        "--keep",
        "id",
        "--register",
        "red/spark-scores",
    )

    assert result["rows"] == len(rows)
    assert (output / "_SUCCESS").exists()
    table = pq.read_table(output).sort_by([("id", "ascending")])
    assert sorted(table.column_names) == ["id", "label", "probability_0", "probability_1"]
    # Both halves of the input carry ids 0..2844: compare each id's label with sklearn's.
    expected = estimators["good"].predict(rows)
    ids = table.column("id").to_numpy()
    labels = table.column("label").to_numpy()
    half = len(rows) // 2
    by_id = {(i, lab) for i, lab in zip(ids, labels, strict=True)}
    assert by_id == {(i if i < half else i - half, expected[i]) for i in range(len(rows))}
    assert cli.json("datasets", "show", "red/spark-scores:1")["upstream"][0]["ref"] == "red/churn:1"
