"""`modelyard score` against a live server: output registered with lineage, bad input
fails early with nothing written, S3 in and out, and a killed run resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.registry.access import tracker
from modelyard.registry.models import AssetVersion, Kind
from modelyard.registry.services import (
    ArtifactSource,
    VersionSpec,
    create_asset,
    register_version,
)
from tests.fixtures.cli import Cli


def scores(folder: Path) -> pa.Table:
    return pq.read_table(folder)


def test_scores_a_registered_data_set_and_registers_the_output(
    cli: Cli, served_model, parquet_dir: Path, rows, estimators, teams, tmp_path: Path
) -> None:
    data = create_asset(teams["alice"], Kind.DATASET, teams["red"], "patients")
    register_version(
        teams["alice"],
        data,
        VersionSpec(flavor="parquet"),
        [ArtifactSource("input", uri=parquet_dir.as_uri())],
    )
    before = {v.pk: v.last_accessed_at for v in AssetVersion.objects.all()}
    output = tmp_path / "scores"

    result = cli.json(
        "score",
        "red/churn@production",
        "--input",
        "dataset:red/patients:1",
        "--output",
        output.as_uri(),
        "--register",
        "red/patient-scores",
        "--keep",
        "id",
        "--rows-per-part",
        "1000",
        "--workers",
        "2",
    )

    assert result["rows"] == len(rows)
    assert result["registered"] == "red/patient-scores:1"
    table = scores(output)
    assert table.num_rows == len(rows)
    assert sorted(table.column_names) == ["id", "label", "probability_0", "probability_1"]
    expected = estimators["good"].predict(rows)
    got = {}
    for part in sorted(output.glob("part-*.parquet")):
        got[part.name] = pq.read_table(part).column("label").to_numpy()
    assert np.array_equal(np.concatenate(list(got.values())), expected)
    assert len(got) == 6  # 2 files x 2,845 rows, 500-row groups, parts of >= 1,000 rows
    registered = cli.json("datasets", "show", "red/patient-scores:1")
    assert {(e["ref"], e["relation"]) for e in registered["upstream"]} == {
        ("red/churn:1", "derived_from"),
        ("red/patients:1", "derived_from"),
    }
    assert registered["metrics"] == {"rows": float(len(rows))}
    tracker().flush()
    for version in AssetVersion.objects.filter(pk__in=before):
        assert version.last_accessed_at > before[version.pk], version.ref  # model and data used


def test_csv_input(cli: Cli, served_model, csv_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "scores"

    result = cli.json(
        "score",
        "red/churn@production",
        "--input",
        csv_file.as_uri(),
        "--output",
        output.as_uri(),
        "--workers",
        "1",
    )

    assert result["rows"] == 1000
    assert result["registered"] is None
    assert scores(output).num_rows == 1000


def test_a_missing_column_fails_before_anything_is_written(
    cli: Cli, served_model, tmp_path: Path, rows
) -> None:
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"f0": rows[:10, 0]}), bad)
    output = tmp_path / "scores"

    said = cli.fails(
        "score",
        "red/churn@production",
        "--input",
        bad.as_uri(),
        "--output",
        output.as_uri(),
        "--register",
        "red/never",
    )

    assert "has no column 'f1'" in said
    assert "bad.parquet" in said
    assert not output.exists()
    assert not AssetVersion.objects.filter(asset__name="never").exists()


def test_text_in_a_feature_column_is_named(cli: Cli, served_model, tmp_path: Path) -> None:
    path = tmp_path / "text.csv"
    header = ",".join(f"f{i}" for i in range(30))
    path.write_text(header + "\n" + ",".join(["x"] * 30) + "\n")

    said = cli.fails(
        "score",
        "red/churn@production",
        "--input",
        path.as_uri(),
        "--output",
        (tmp_path / "o").as_uri(),
    )

    assert "Column 'f0'" in said
    assert "not numeric" in said


def test_an_output_holding_another_scoring_is_refused(
    cli: Cli, served_model, csv_file: Path, parquet_dir: Path, tmp_path: Path
) -> None:
    output = (tmp_path / "scores").as_uri()
    cli("score", "red/churn@production", "--input", csv_file.as_uri(), "--output", output)

    said = cli.fails(
        "score", "red/churn@production", "--input", parquet_dir.as_uri(), "--output", output
    )

    assert "choose another --output" in said


@pytest.mark.integration
def test_scores_from_s3_to_s3(
    cli: Cli, served_model, parquet_dir: Path, s3_client, s3_bucket, rows, declare_store
) -> None:
    declare_store(f"s3://{s3_bucket}/", teams=["red"])  # the output is registered
    for path in parquet_dir.glob("*.parquet"):
        s3_client.upload_file(str(path), s3_bucket, f"input/{path.name}")

    result = cli.json(
        "score",
        "red/churn@production",
        "--input",
        f"s3://{s3_bucket}/input/",
        "--output",
        f"s3://{s3_bucket}/scores",
        "--register",
        "red/s3-scores",
        "--workers",
        "1",
    )

    assert result["rows"] == len(rows)
    keys = [
        o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="scores/")["Contents"]
    ]
    assert "scores/_modelyard_scoring.json" in keys
    assert sum(k.endswith(".parquet") for k in keys) == 2
    assert cli.json("datasets", "show", "red/s3-scores:1")["size_bytes"] > 0


@pytest.mark.integration
def test_a_killed_run_resumes_without_scoring_parts_again(
    cli: Cli, served_model, rows, tmp_path: Path
) -> None:
    big = np.tile(rows, (8, 1))  # 45,520 rows in 46 parts of 1,000
    source = tmp_path / "big.parquet"
    pq.write_table(
        pa.table({f"f{i}": big[:, i] for i in range(30)} | {"id": np.arange(len(big))}),
        source,
        row_group_size=1000,
    )
    output = tmp_path / "scores"
    args = [
        "score",
        "red/churn@production",
        "--input",
        source.as_uri(),
        "--output",
        output.as_uri(),
        "--rows-per-part",
        "1000",
        "--batch-size",
        "100",
        "--workers",
        "1",
        "--keep",
        "id",
    ]
    env = {**os.environ, **cli.env("alice")}
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard.cli.main", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(list(output.glob("part-*.parquet"))) < 3:
        assert process.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(list(output.glob("part-*.parquet")))
    assert done_before < 46

    result = cli.json(*args)

    assert result["parts_skipped"] == done_before
    assert result["parts_scored"] == 46 - done_before
    ids = pq.read_table(output).column("id").to_numpy()
    assert len(ids) == len(big)
    assert len(np.unique(ids)) == len(big)


def test_the_local_engine_runs_the_model_in_a_sandbox(tmp_path, parquet_dir, monkeypatch, cancer):
    """A crafted model scored by the engine's workers sees none of the secrets."""
    from sklearn.linear_model import LogisticRegression

    from modelyard.scoring import engine
    from modelyard.scoring.inputs import list_inputs, plan
    from tests.fixtures.models import COLUMNS
    from tests.loading import crafted

    for name, value in crafted.SECRETS.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    estimator = LogisticRegression(max_iter=3000).fit(*cancer)
    with crafted.report_folder() as reports:
        model = crafted.save(crafted.snooping(estimator, reports, home), tmp_path / "model")
        spec = engine.ModelSpec(str(model), "sklearn", "red/evil:1", tuple(COLUMNS))
        workdir = tmp_path / "work"
        workdir.mkdir()
        parts = plan(list_inputs([parquet_dir.as_uri()]), COLUMNS, 2000)
        output = (tmp_path / "scores").as_uri()
        job = engine.Job(spec, tuple(parts), output, str(workdir), 1000, ("id",))

        outcome = engine.run(job, workers=1)
        report = crafted.read_report(reports)

    crafted.assert_sandboxed(report, home)
    assert outcome.rows == 5690
    scored = pq.read_table(tmp_path / "scores")
    assert scored.column_names == ["id", "label", "probability_0", "probability_1"]
    expected = estimator.predict(np.tile(cancer[0], (10, 1)))
    assert np.array_equal(np.sort(scored.column("label").to_numpy()), np.sort(expected))


def test_a_model_that_fails_to_load_in_a_worker_fails_the_run_naming_it(tmp_path, parquet_dir):
    """Each pool worker's sandbox error comes back as the run's error, not a broken pool."""
    from modelyard.loading import SandboxError
    from modelyard.scoring import engine
    from modelyard.scoring.inputs import list_inputs, plan
    from tests.fixtures.models import COLUMNS
    from tests.loading import crafted

    model = crafted.save(crafted.raising("cannot load here"), tmp_path / "model")
    spec = engine.ModelSpec(str(model), "sklearn", "red/broken:1", tuple(COLUMNS))
    workdir = tmp_path / "work"
    workdir.mkdir()
    parts = plan(list_inputs([parquet_dir.as_uri()]), COLUMNS, 2000)
    job = engine.Job(spec, tuple(parts), (tmp_path / "scores").as_uri(), str(workdir), 1000)

    with pytest.raises(SandboxError, match=r"red/broken:1: load failed: .*cannot load here"):
        engine.run(job, workers=2)
