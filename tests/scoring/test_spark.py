"""`--engine spark` on a real standalone cluster (a master and two workers, 1 core each):
the local engine's result, a failing task retried by Spark, progress from the status
tracker, and one-line errors for what a cluster lacks."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pyarrow.parquet as pq
import pytest

from modelyard.lib.spark_session import SparkError
from modelyard.scoring import engine, spark
from modelyard.scoring.inputs import list_inputs, plan
from tests.fixtures.cli import Cli
from tests.fixtures.models import COLUMNS
from tests.loading import crafted

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def fails_while_armed(estimator: Any, armed: Path) -> crafted._Reduced:
    """Unpickles to `estimator`, except while the file `armed` exists: that load removes
    it and fails, so exactly the first attempt fails and a retry succeeds."""
    trap = (
        f"__import__('os').path.exists({str(armed)!r}) and [__import__('os').remove("
        f"{str(armed)!r}), (_ for _ in ()).throw(RuntimeError('armed: this load fails'))]"
    )
    inner = pickle.dumps(estimator)
    return crafted._Reduced(eval, f"[{trap}, __import__('pickle').loads({inner!r})][1]")


def job_for(model: Path, inputs: Path, output: Path, workdir: Path) -> engine.Job:
    spec = engine.ModelSpec(str(model), "sklearn", "red/once:1", tuple(COLUMNS))
    parts = plan(list_inputs([inputs.as_uri()]), [*COLUMNS, "id"], 1000)
    workdir.mkdir(exist_ok=True)
    return engine.Job(spec, tuple(parts), output.as_uri(), str(workdir), 500, ("id",))


def test_the_cluster_retries_a_failed_task_and_scores_like_the_local_engine(
    spark_cluster, parquet_dir: Path, estimators, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MODELYARD_SPARK_EXECUTOR_MEMORY", "512m")
    with crafted.report_folder() as traps:
        armed = traps / "armed"
        model = crafted.save(fails_while_armed(estimators["good"], armed), tmp_path / "model")
        local_job = job_for(model, parquet_dir, tmp_path / "local", tmp_path / "work-local")
        cluster_job = job_for(model, parquet_dir, tmp_path / "cluster", tmp_path / "work")
        engine.run(local_job, workers=1)
        armed.touch()
        seen: list[tuple[int, int]] = []

        outcome = spark.run(cluster_job, spark_cluster.master, lambda *done: seen.append(done))

        assert not armed.exists()  # the first load failed; Spark ran that task again
    assert outcome.rows == 5690
    assert outcome.parts_scored == len(cluster_job.parts) == 6
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert sorted(p.name for p in (tmp_path / "cluster").iterdir()) == names
    for name in names[1:]:  # the parts; the manifest first
        assert pq.read_table(tmp_path / "cluster" / name).equals(
            pq.read_table(tmp_path / "local" / name)
        )
    assert seen[-1] == (5690, 6)  # rows and parts, from the accumulator and the tracker
    assert [rows for rows, _ in seen] == sorted(rows for rows, _ in seen)


def test_score_command_on_the_cluster_registers_the_output(
    cli: Cli, spark_cluster, served_model, parquet_dir, rows, estimators, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MODELYARD_SPARK_EXECUTOR_MEMORY", "512m")
    output = tmp_path / "spark-scores"

    result = cli.json(
        "score",
        "red/churn@production",
        *("--input", parquet_dir.as_uri(), "--output", output.as_uri()),
        *("--engine", "spark", "--spark-master", spark_cluster.master),
        *("--keep", "id", "--register", "red/spark-scores"),
    )

    assert result["rows"] == len(rows)
    assert result["parts_scored"] == 2
    table = pq.read_table(output)
    expected = estimators["good"].predict(rows)
    assert np.array_equal(table.column("label").to_numpy(), expected)
    registered = cli.json("datasets", "show", "red/spark-scores:1")
    assert registered["upstream"][0]["ref"] == "red/churn:1"
    assert registered["metrics"] == {"rows": float(len(rows))}


def test_executors_without_modelyard_are_named_with_how_to_install_it(
    cli: Cli, served_model, parquet_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    bare = Path("/usr/bin/python3")
    if not bare.exists():
        pytest.skip("needs a system Python without modelyard at /usr/bin/python3")
    monkeypatch.setenv("MODELYARD_SPARK_PYTHON", str(bare))

    said = cli.fails(
        "score",
        "red/churn@production",
        *("--input", parquet_dir.as_uri(), "--output", (tmp_path / "o").as_uri()),
        *("--engine", "spark", "--spark-master", "local[1]"),
    )

    assert f"The Spark executors' Python ({bare}) cannot import modelyard" in said
    assert "pip install 'modelyard[spark]'" in said
    assert len(said.strip().splitlines()) == 1


def test_a_cluster_without_room_for_an_executor_is_one_line(
    spark_cluster, parquet_dir: Path, estimators, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MODELYARD_SPARK_EXECUTOR_MEMORY", "2g")  # the workers offer 512 MB
    monkeypatch.setenv("MODELYARD_SPARK_START_TIMEOUT_SECONDS", "3")
    model = tmp_path / "model"
    model.mkdir()
    joblib.dump(estimators["good"], model / "model.joblib")
    job = job_for(model, parquet_dir, tmp_path / "out", tmp_path / "work")

    with pytest.raises(SparkError) as raised:
        spark.run(job, spark_cluster.master)

    assert "No Spark executor ran a task within 3 s" in str(raised.value)
    assert "MODELYARD_SPARK_EXECUTOR_MEMORY" in str(raised.value)
    assert not list((tmp_path / "out").glob("part-*"))
