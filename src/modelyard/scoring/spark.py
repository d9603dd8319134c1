"""The Spark engine: the local engine's parts, each scored by a Spark task on a cluster.

Spark schedules, places and retries; the scoring itself is the local engine's: every part
of the plan is one task, which streams its row groups from `file://` or `s3://` with
Arrow and writes `part-NNNNN.parquet` atomically beside the same manifest. So the output
is the local engine's to the byte layout, a run resumes after a failure (the parts
already there are skipped), a task Spark retries just writes its part again, and S3
needs no Hadoop connector.

The model's folder is shipped as a zip named by its content hash (`lib/spark_session.py`), and
each Python worker loads it once, in the sandbox as the local engine does, and keeps it
for the tasks that follow. Progress (rows and parts) comes from Spark's status tracker and
an accumulator of rows. Needs the `spark` extra and Java; on a cluster the executors'
Python (`MODELYARD_SPARK_PYTHON`) needs modelyard installed, and `file://` inputs and
outputs must be on a filesystem every machine mounts at the same path.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from modelyard.lib import spark_session
from modelyard.scoring import engine
from modelyard.scoring.engine import Job, Outcome
from modelyard.scoring.inputs import Part, workdir_for


def run(job: Job, master: str, progress: engine.Progress | None = None) -> Outcome:
    started = time.perf_counter()
    done = engine.claim_output(job)
    todo = [part for part in job.parts if part.index not in done]
    rows = 0
    if todo:
        with spark_session.session(master, f"modelyard score {job.model.ref}") as spark:
            shipped = spark_session.ship_folder(spark, Path(job.model.directory), Path(job.workdir))
            task = partial(_score_on_executor, job=job, shipped=shipped)
            rows = sum(spark_session.run_tasks(spark, todo, task, progress))
    return Outcome(rows, len(todo), len(done), time.perf_counter() - started)


# --- on the executors ---------------------------------------------------------------------

_current: dict[str, Any] = {}


def _score_on_executor(part: Part, job: Job, shipped: spark_session.Shipped) -> int:
    """Score one part in this Python worker, starting its model on the first task."""
    local = replace(
        job,
        model=replace(job.model, directory=str(spark_session.unpacked(shipped))),
        workdir=str(workdir_for(job.output_uri)),
    )
    if _current.get("job") != local:
        _start(local)
    return engine.score_part(part)


def _start(job: Job) -> None:
    engine.stop_worker()
    _current.pop("job", None)
    engine.start_worker(job)
    error = engine.worker_error()
    if error is not None:
        # Not kept: the task fails, and the retry Spark makes loads the model afresh.
        engine.stop_worker()
        raise error
    _current["job"] = job
