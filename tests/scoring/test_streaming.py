"""Inputs are streamed where they lie, never copied: S3 through Arrow's S3 filesystem on
the moto server, footers for planning and row groups read by the workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.scoring import engine
from modelyard.scoring.inputs import ScoringError, list_inputs, plan
from modelyard.storage.s3 import S3Store
from tests.fixtures.models import COLUMNS
from tests.scoring.conftest import table

pytestmark = pytest.mark.integration


def never_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: S3Store, uri: str, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"{uri} was downloaded; inputs must be streamed")

    monkeypatch.setattr(S3Store, "download", refuse)
    monkeypatch.setattr(S3Store, "open", refuse)


def test_s3_parts_are_streamed_by_the_workers_without_a_local_copy(
    s3_client, s3_bucket, parquet_dir: Path, estimators, rows, tmp_path: Path, monkeypatch
) -> None:
    for path in sorted(parquet_dir.glob("*.parquet")):
        s3_client.upload_file(str(path), s3_bucket, f"input/{path.name}")
    never_downloaded(monkeypatch)
    model = tmp_path / "model"
    model.mkdir()
    import joblib

    joblib.dump(estimators["good"], model / "model.joblib")
    spec = engine.ModelSpec(str(model), "sklearn", "red/churn:1", tuple(COLUMNS))
    parts = plan(list_inputs([f"s3://{s3_bucket}/input/"]), [*COLUMNS, "id"], 1000)
    workdir = tmp_path / "work"
    workdir.mkdir()
    output = f"s3://{s3_bucket}/scores"
    job = engine.Job(spec, tuple(parts), output, str(workdir), 400, ("id",))

    outcome = engine.run(job, workers=2)

    assert [part.rows for part in job.parts] == [1000, 1000, 845, 1000, 1000, 845]
    assert outcome.rows == len(rows)
    assert list(workdir.iterdir()) == []  # output parts were published, nothing else kept
    keys = sorted(
        o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="scores/")["Contents"]
    )
    parts = [f"scores/part-{i:05d}.parquet" for i in range(6)]
    assert keys == ["scores/_modelyard_scoring.json", *parts]
    labels = []
    for key in keys[1:]:
        body = s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        labels.append(pq.read_table(pa.BufferReader(body)).column("label").to_numpy())
    assert np.array_equal(np.concatenate(labels), estimators["good"].predict(rows))


def test_a_column_missing_in_one_of_many_s3_files_is_named_before_scoring(
    s3_client, s3_bucket, rows, tmp_path: Path
) -> None:
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    pq.write_table(table(rows[:100]), good)
    pq.write_table(table(rows[:100]).drop_columns(["f7"]), bad)
    s3_client.upload_file(str(good), s3_bucket, "in/a.parquet")
    s3_client.upload_file(str(bad), s3_bucket, "in/b.parquet")

    with pytest.raises(ScoringError) as raised:
        plan(list_inputs([f"s3://{s3_bucket}/in/"]), COLUMNS, 1000)

    message = str(raised.value)
    assert f"s3://{s3_bucket}/in/b.parquet has no column 'f7'" in message
    assert "\n" not in message


def test_an_unreadable_s3_file_is_one_line(s3_client, s3_bucket) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="in/broken.parquet", Body=b"not parquet at all")

    with pytest.raises(ScoringError, match=r"broken\.parquet") as raised:
        plan(list_inputs([f"s3://{s3_bucket}/in/"]), COLUMNS, 1000)

    assert "\n" not in str(raised.value)
