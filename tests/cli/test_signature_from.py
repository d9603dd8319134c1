"""Signatures without hand-written JSON: `--signature-from` reads a CSV or Parquet sample; the
format is in `--help`."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.fixtures.cli import Cli, invoke, write

OUTPUTS = '{"outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}]}'


def test_a_csv_sample_gives_a_models_inputs(cli: Cli, tmp_path: Path) -> None:
    sample = write(tmp_path / "sample.csv", b"age,income,member\n41,52000.5,true\n")
    model = str(write(tmp_path / "m.bin", b"x"))

    cli(
        "models",
        "register",
        "red/churn",
        model,
        "--signature-from",
        str(sample),
        "--signature",
        OUTPUTS,
    )

    signature = cli.json("models", "show", "red/churn:1")["signature"]
    assert signature["inputs"] == [
        {"name": "age", "type": "long"},
        {"name": "income", "type": "double"},
        {"name": "member", "type": "boolean"},
    ]
    assert signature["outputs"][0]["name"] == "probability"


def test_a_parquet_sample_gives_a_data_sets_columns(cli: Cli, tmp_path: Path) -> None:
    table = pa.table({"id": pa.array([1], pa.int32()), "city": ["Oslo"]})
    pq.write_table(table, tmp_path / "sample.parquet")
    data = str(write(tmp_path / "d.csv", b"id,city\n1,Oslo\n"))

    cli(
        "datasets",
        "register",
        "red/cities",
        data,
        "--signature-from",
        str(tmp_path / "sample.parquet"),
    )

    signature = cli.json("datasets", "show", "red/cities:1")["signature"]
    assert signature == {
        "columns": [{"name": "id", "type": "int"}, {"name": "city", "type": "string"}]
    }


def test_inputs_given_twice_are_refused(cli: Cli, tmp_path: Path) -> None:
    sample = write(tmp_path / "sample.csv", b"age\n41\n")
    given = '{"inputs": [{"name": "age", "type": "double"}]}'

    result = cli.run(
        "models",
        "register",
        "red/churn",
        str(sample),
        "--signature-from",
        str(sample),
        "--signature",
        given,
    )

    assert result.exit_code == 2
    assert "both --signature and --signature-from give the inputs" in result.output


def test_an_unknown_format_is_named(cli: Cli, tmp_path: Path) -> None:
    sample = write(tmp_path / "sample.json", b"{}")

    result = cli.run(
        "models", "register", "red/churn", str(sample), "--signature-from", str(sample)
    )

    assert result.exit_code == 2
    assert "give a .csv, .tsv or .parquet file" in result.output


def test_help_spells_out_the_format() -> None:
    result = invoke("models", "register", "--help", env={})
    text = " ".join(result.output.split())  # as read, whatever the wrapping

    assert '{"inputs": [{"name": "age", "type": "double"}' in text
    assert '"shape": [-1, 2]' in text
    assert "--signature-from FILE" in text
