"""The Spark engine: the same scoring as a pandas-on-Arrow function (`mapInPandas`).

The model's folder is shipped to the executors with `SparkContext.addFile`, and each Python
worker loads it once (the first batch it sees) and keeps it for the batches that follow,
so a cluster scores TB-scale data with one load per worker, not per batch. The output
schema is learnt on the driver from one prediction on the example rows, so Spark knows it
before any task runs. Spark writes the output folder through its own commit protocol; a
failed job leaves no `_SUCCESS` and is simply run again on an empty output.

Needs the `spark` extra (`pip install 'modelyard[spark]'`: pyspark and pandas) and Java;
on a cluster, the executors' Python needs modelyard installed too.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from modelyard import storage
from modelyard.loading import load_predictor, outputs
from modelyard.scoring.engine import Job, Outcome
from modelyard.scoring.inputs import ScoringError

_loaded: dict[str, Any] = {}


def run(job: Job, master: str) -> Outcome:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ScoringError(
            "The spark engine needs pyspark and pandas: pip install 'modelyard[spark]'."
        ) from None
    started = time.perf_counter()
    if storage.get_store(job.output_uri).exists(job.output_uri):
        raise ScoringError(f"{job.output_uri} already holds files; choose an empty --output.")
    builder = (
        SparkSession.builder.master(master)
        .appName(f"modelyard score {job.model.ref}")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
    )
    if master.startswith("local"):
        # Local Python workers must be this interpreter (it has modelyard): the JVM reads
        # PYSPARK_PYTHON when it starts them. On a cluster it is the cluster's to set.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = builder.getOrCreate()
    try:
        rows = _score(spark, job)
    finally:
        spark.stop()
    return Outcome(rows, len(job.parts), 0, time.perf_counter() - started)


def _score(spark: Any, job: Job) -> int:
    spark.sparkContext.addFile(job.model.directory, recursive=True)
    columns = [*job.model.columns, *job.keep]
    frame = _read(spark, job).select(*columns)
    schema = _output_schema(spark, frame, job)
    folder, flavor, features = Path(job.model.directory).name, job.model.flavor, job.model.columns

    def score_batches(batches: Iterator[Any]) -> Iterator[Any]:
        predictor = _predictor(folder, flavor)
        for batch in batches:
            yield _scored(batch, predictor, features, job.keep)

    scored = frame.mapInPandas(score_batches, schema)
    scored.write.mode("errorifexists").parquet(_spark_path(job.output_uri))
    return int(spark.read.parquet(_spark_path(job.output_uri)).count())


def _read(spark: Any, job: Job) -> Any:
    paths = sorted({_spark_path(part.uri) for part in job.parts})
    if all(part.format == "parquet" for part in job.parts):
        return spark.read.parquet(*paths)
    return spark.read.option("header", "true").option("inferSchema", "true").csv(paths)


def _spark_path(uri: str) -> str:
    # Hadoop names the S3 connector s3a; the cluster's configuration provides it.
    return "s3a://" + uri.removeprefix("s3://") if uri.startswith("s3://") else uri


def _predictor(folder: str, flavor: str) -> Any:
    """The model of this Python worker, loaded on its first batch and kept."""
    if folder not in _loaded:
        from pyspark import SparkFiles

        _loaded[folder] = load_predictor(Path(SparkFiles.get(folder)), flavor)
    return _loaded[folder]


def _scored(batch: Any, predictor: Any, features: tuple[str, ...], keep: tuple[str, ...]) -> Any:
    import pandas as pd

    matrix = batch[list(features)].to_numpy(dtype=np.float64)
    columns: dict[str, Any] = {name: batch[name].to_numpy() for name in keep}
    columns.update(outputs.flatten(predictor.predict(matrix)))
    return pd.DataFrame(columns)


def _output_schema(spark: Any, frame: Any, job: Job) -> Any:
    """Learnt on the driver from a few rows, so Spark knows the columns before scoring."""
    sample = frame.limit(5).toPandas()
    predictor = load_predictor(Path(job.model.directory), job.model.flavor)
    example = _scored(sample, predictor, job.model.columns, job.keep)
    return spark.createDataFrame(example).schema
