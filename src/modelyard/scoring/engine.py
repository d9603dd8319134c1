"""The local engine: parts scored in parallel processes, each loading the model once.

A pickled or MLflow model loads in a sandboxed child of each process (loading/sandbox.py:
the model's code never runs where the inputs' credentials are); an ONNX model (a
version's checked conversion), which runs no Python code, loads in the process itself.
Each process reads its part in record batches (memory bounded by the batch size, not by
the data), hands each batch's input columns to the model (to the sandbox as Arrow over a
pipe), and writes one Parquet file per part under the output prefix
(`part-00042.parquet`), atomically: a part's file exists only once it is complete. A
manifest written first (`_modelyard_scoring.json`) records the model and the plan; a run
started again on the same output skips the parts already there, and refuses when the
manifest names another model or other inputs rather than mixing two scorings.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.util import Finalize
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard import storage
from modelyard.loading import ModelLoadError, Predictor, outputs
from modelyard.loading.sandbox import Limits, SandboxedPredictor, load_untrusted
from modelyard.scoring.inputs import Part, ScoringError, describe, read_batches

MANIFEST = "_modelyard_scoring.json"
Progress = Callable[[int, int], None]  # (rows done, parts done)


@dataclass(frozen=True)
class ModelSpec:
    """Where a worker process finds the model: a local directory and how to load it."""

    directory: str
    flavor: str
    ref: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    model: ModelSpec
    parts: tuple[Part, ...]
    output_uri: str
    workdir: str
    batch_size: int = 65_536
    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    rows: int
    parts_scored: int
    parts_skipped: int
    seconds: float


def part_uri(output_uri: str, index: int) -> str:
    return storage.join_uri(output_uri, f"part-{index:05d}.parquet")


def run(job: Job, workers: int, progress: Progress | None = None) -> Outcome:
    started = time.perf_counter()
    done = claim_output(job)
    todo = [part for part in job.parts if part.index not in done]
    if workers <= 1 or len(todo) <= 1:
        rows = _run_here(job, todo, progress)
    else:
        rows = _run_in_processes(job, todo, workers, progress)
    return Outcome(rows, len(todo), len(done), time.perf_counter() - started)


# --- output and resumption -------------------------------------------------------------


def _manifest(job: Job) -> dict[str, Any]:
    return {
        "model": job.model.ref,
        "columns": list(job.model.columns),
        "keep": list(job.keep),
        "parts": describe(job.parts),
    }


def claim_output(job: Job) -> set[int]:
    """Write the manifest, or check the one there; return the parts already scored."""
    store = storage.get_store(job.output_uri)
    manifest_uri = storage.join_uri(job.output_uri, MANIFEST)
    wanted = _manifest(job)
    if store.exists(manifest_uri):
        with store.open(manifest_uri) as handle:
            found = json.load(handle)
        if found != json.loads(json.dumps(wanted)):
            raise ScoringError(
                f"{job.output_uri} holds a scoring of {found.get('model')} over other inputs "
                "or columns; choose another --output, or delete that one to start over."
            )
        return {p.index for p in job.parts if store.exists(part_uri(job.output_uri, p.index))}
    if store.exists(job.output_uri):
        raise ScoringError(f"{job.output_uri} already holds files; choose an empty --output.")
    payload = json.dumps(wanted).encode()
    store.put(manifest_uri, io.BytesIO(payload), size=len(payload))
    return set()


# --- running -------------------------------------------------------------------------


def _run_here(job: Job, parts: Sequence[Part], progress: Progress | None) -> int:
    start_worker(job)
    rows = 0
    try:
        for count, part in enumerate(parts, start=1):
            rows += score_part(part)
            if progress:
                progress(rows, count)
    finally:
        stop_worker()
    return rows


def _run_in_processes(
    job: Job, parts: Sequence[Part], workers: int, progress: Progress | None
) -> int:
    # fork: the children inherit the imported libraries; each starts one sandbox.
    context = get_context("fork")
    rows = finished = 0
    with ProcessPoolExecutor(workers, context, initializer=start_worker, initargs=(job,)) as pool:
        pending = {pool.submit(score_part, part) for part in parts}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                rows += future.result()  # a failed part stops the run: its error surfaces
                finished += 1
            if progress:
                progress(rows, finished)
    return rows


_worker: dict[str, Any] = {}


def start_worker(job: Job) -> None:
    """Once per process: load the model (a sandbox is stopped when the process ends)."""
    spec = job.model
    # No CPU limit: a worker lives as long as its share of the data; each batch still has
    # the timeout.
    limits = Limits.configured(cpu_seconds=0)
    _worker.update(job=job, error=None)
    try:
        predictor = load_untrusted(Path(spec.directory), spec.flavor, name=spec.ref, limits=limits)
    except ModelLoadError as error:
        # Raised by the first part instead: an initializer's error only breaks the pool.
        _worker["error"] = error
        return
    _worker["predictor"] = predictor
    if isinstance(predictor, SandboxedPredictor):
        # A pool worker ends through multiprocessing's exit: finalizers run, not atexit.
        Finalize(predictor, predictor.close, exitpriority=10)


def stop_worker() -> None:
    _worker.pop("error", None)
    predictor = _worker.pop("predictor", None)
    if isinstance(predictor, SandboxedPredictor):
        predictor.close()


def worker_error() -> ModelLoadError | None:
    """Why this process's model failed to load, if it did."""
    error: ModelLoadError | None = _worker.get("error")
    return error


def score_part(part: Part) -> int:
    """Score one part into its output file (this process's worker must be started)."""
    if _worker.get("error") is not None:
        raise _worker["error"]
    job: Job = _worker["job"]
    predictor: Predictor = _worker["predictor"]
    target = Path(job.workdir) / f"part-{part.index:05d}.{os.getpid()}.parquet"
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for batch in read_batches(part, [*job.model.columns, *job.keep], job.batch_size):
            table = _scored(batch, predictor, job)
            writer = writer or pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
            rows += batch.num_rows
        if writer is None:  # an empty part writes nothing
            return 0
        writer.close()
        writer = None
        _publish(target, part_uri(job.output_uri, part.index))
    finally:
        if writer is not None:
            writer.close()
        target.unlink(missing_ok=True)
    return rows


def _scored(batch: pa.RecordBatch, predictor: Predictor, job: Job) -> pa.Table:
    features = pa.RecordBatch.from_arrays(
        [batch.column(name) for name in job.model.columns], names=list(job.model.columns)
    )
    predicted = predictor.predict_columns(features)
    columns: dict[str, Any] = {name: batch.column(name) for name in job.keep}
    columns.update(outputs.flatten(predicted))
    return pa.table(columns)


def _publish(local: Path, uri: str) -> None:
    with local.open("rb") as handle:
        storage.get_store(uri).put(uri, handle, size=local.stat().st_size)
