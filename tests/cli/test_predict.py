"""`modelyard predict`: CSV, Parquet and JSON lines (a file or stdin) to a real prediction
server, predictions as a table or JSON, and every failure as one line."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from modelyard import config
from modelyard.cli.main import cli as modelyard
from modelyard.registry.access import tracker
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
from tests.fixtures.models import COLUMNS
from tests.serving.conftest import running


@pytest.fixture
def server(transactional_db, publish) -> Iterator[str]:
    publish("red/churn")
    fleet = Fleet.following_registry("production", poll_seconds=60)
    fleet.refresh()
    with running(App(fleet)) as url:
        yield url
    tracker().flush()  # the predictions' uses, written while the tables exist


@pytest.fixture
def rows(cancer) -> np.ndarray:
    return cancer[0][:3]


def predict(url: str, *args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(
        modelyard, ["predict", *args, "--url", url], input=stdin, catch_exceptions=False
    )


def csv_of(rows: np.ndarray) -> str:
    lines = [",".join(COLUMNS), *(",".join(repr(float(v)) for v in row) for row in rows)]
    return "\n".join(lines) + "\n"


def test_a_csv_file_gives_one_prediction_per_row(server, rows, estimators, tmp_path) -> None:
    (tmp_path / "rows.csv").write_text(csv_of(rows))

    table = predict(server, "churn", "--input", str(tmp_path / "rows.csv"))
    answer = json.loads(
        predict(server, "red/churn:1", "--input", str(tmp_path / "rows.csv"), "--json").output
    )

    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[:2] == ["churn version 1", "   row  prediction  probability"]
    assert len(lines) == 5
    expected = estimators["good"].predict_proba(rows)
    assert answer["model"] == "churn"
    assert answer["predictions"] == list(estimators["good"].predict(rows))
    assert np.allclose(answer["probability"], expected, atol=1e-4)
    assert lines[2].split()[2] == f"{expected[0][0]:.4f}"


def test_parquet_and_json_lines_from_stdin_in_small_batches(server, rows, tmp_path) -> None:
    table = pa.table({name: rows[:, i] for i, name in enumerate(COLUMNS)})
    pq.write_table(table, tmp_path / "rows.parquet")
    lines = "\n".join(json.dumps(dict(zip(COLUMNS, map(float, row), strict=True))) for row in rows)

    from_parquet = predict(server, "churn", "--input", str(tmp_path / "rows.parquet"), "--json")
    from_stdin = predict(
        server, "churn", "--input", "-", "--json", "--batch-rows", "2", stdin=lines.encode()
    )

    assert from_stdin.exit_code == 0, from_stdin.output
    assert json.loads(from_parquet.output) == json.loads(from_stdin.output)
    assert len(json.loads(from_stdin.output)["predictions"]) == 3


def test_failures_are_one_line(server, rows, tmp_path) -> None:
    (tmp_path / "rows.csv").write_text(csv_of(rows).replace("f7,", "oops,", 1))
    (tmp_path / "rows.txt").write_text("a,b\n1,2\n")

    missing = predict(server, "churn", "--input", str(tmp_path / "rows.csv"))
    unknown = predict(server, "nope", "--input", "-", stdin=csv_of(rows).encode())
    wrong_version = predict(server, "churn:7", "--input", "-", stdin=csv_of(rows).encode())
    unsure = predict(server, "churn", "--input", str(tmp_path / "rows.txt"))
    down = predict(f"http://127.0.0.1:{closed_port()}", "churn", "--input", "-", stdin=b"a\n1\n")

    for result in (missing, unknown, wrong_version, unsure, down):
        assert result.exit_code == 1, result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert "f7" in missing.output
    assert "rows 1-3" in missing.output
    assert "No model 'nope' is served here; serving: churn." in unknown.output
    assert "serves version 1 of churn, not 7" in wrong_version.output
    assert "pass --format csv|parquet|jsonl" in unsure.output
    assert "Could not reach the prediction server" in down.output


def test_the_url_comes_from_the_setting_else_from_up(monkeypatch, own_config_folder) -> None:
    monkeypatch.delenv("MODELYARD_SERVE_URL", raising=False)
    assert config.serving_url() == "http://127.0.0.1:8080"
    config.save_serving_url("http://127.0.0.1:9999/")
    assert config.serving_url() == "http://127.0.0.1:9999"
    monkeypatch.setenv("MODELYARD_SERVE_URL", "http://serving.example:8080")
    assert config.serving_url() == "http://serving.example:8080"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
