"""Spark sessions for modelyard's engines: local mode or a real cluster, one way.

Shared by every `--engine spark`: scoring now, and the feature store's backfills and
training sets can call the same functions (it lives in `lib`, below every app, for that).
It checks what would otherwise fail with a JVM stack
trace (Java, a reachable master, modelyard in the executors' Python) and says what to do
in one line; it sets what a cluster needs (the executors' Python and memory); it ships a
local folder to the executors as a zip named by its content hash, which each executor
machine unpacks once and keeps (`addFile` takes no folder on a cluster); and it runs one
task per item with progress from Spark's status tracker.

S3 needs no Hadoop connector or `spark.jars.packages`: modelyard's tasks read and write
through Arrow and boto3 in the Python workers, with the AWS configuration the executors
have (the standard variables, an instance profile, or `spark.executorEnv.AWS_*`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from modelyard import config
from modelyard.lib.errors import ModelyardError

Item = TypeVar("Item")


class SparkError(ModelyardError):
    """Spark cannot run the work as asked; the message says what to do, in one line (an
    expected error: the CLI's boundary shows it without a traceback)."""


TaskProgress = Callable[[int, int], None]  # (count summed so far, tasks done)
INSTALL_HINT = "pip install 'modelyard[spark]'"
POLL_SECONDS = 0.5
# C1 only and a serial collector: JVMs that live for one job start in about half the time.
QUICK_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@dataclass(frozen=True)
class Settings:
    python: str  # the executors' Python
    executor_memory: str
    start_timeout: float

    @classmethod
    def configured(cls) -> Settings:
        return cls(
            python=config.env_str("MODELYARD_SPARK_PYTHON", sys.executable),
            executor_memory=config.env_str("MODELYARD_SPARK_EXECUTOR_MEMORY", "1g"),
            start_timeout=config.env_float(
                "MODELYARD_SPARK_START_TIMEOUT_SECONDS", 120.0, minimum=1.0
            ),
        )


@contextlib.contextmanager
def session(master: str, app_name: str) -> Iterator[Any]:
    """A SparkSession on `master`, checked before the JVM starts and stopped after."""
    SparkSession = _pyspark_session_class()
    require_java()
    require_reachable(master)
    settings = Settings.configured()
    with _python_of_workers(settings.python):
        spark = _started(SparkSession.builder, master, app_name, settings)
    try:
        require_modelyard(spark, settings.python, settings.start_timeout)
        yield spark
    finally:
        spark.stop()


@contextlib.contextmanager
def _python_of_workers(python: str) -> Iterator[None]:
    """pyspark reads PYSPARK_PYTHON when the context starts; put back what was there."""
    before = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = python
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYSPARK_PYTHON", None)
        else:
            os.environ["PYSPARK_PYTHON"] = before


def _started(builder: Any, master: str, app_name: str, settings: Settings) -> Any:
    builder = (
        builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.pyspark.python", settings.python)
        .config("spark.executor.memory", settings.executor_memory)
        .config("spark.driver.extraJavaOptions", QUICK_JVM)
        .config("spark.executor.extraJavaOptions", QUICK_JVM)
    )
    try:
        return builder.getOrCreate()
    except Exception as error:  # py4j and pyspark raise several kinds; all mean "no session"
        raise SparkError(f"Spark did not start on {master}: {_first_line(error)}") from None


def _pyspark_session_class() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkError(f"The spark engine needs pyspark: {INSTALL_HINT}.") from None
    return SparkSession


def require_java() -> None:
    java_home = os.environ.get("JAVA_HOME", "")
    if java_home and Path(java_home, "bin", "java").exists():
        return
    if shutil.which("java") is None:
        raise SparkError(
            "The spark engine needs Java 17 (java on PATH, or JAVA_HOME): install it, e.g. "
            "apt-get install openjdk-17-jre-headless."
        )


def require_reachable(master: str) -> None:
    """A spark:// master must answer on its port: Spark itself retries for a minute."""
    if not master.startswith("spark://"):
        return
    for address in master.removeprefix("spark://").split(","):  # standby masters too
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
            return
        except (OSError, ValueError) as error:
            reason = _first_line(error)
    raise SparkError(
        f"Cannot reach the Spark master {master} ({reason}): start it, or fix --spark-master."
    )


def require_modelyard(spark: Any, python: str, timeout: float) -> None:
    """One tiny task on an executor: its Python must import modelyard, or every task fails.
    It also proves executors start: a cluster without free workers would wait forever."""
    context = spark.sparkContext
    group = f"modelyard-probe-{os.getpid()}-{time.monotonic_ns()}"
    outcome: dict[str, BaseException] = {}

    def probe() -> None:
        context.setJobGroup(group, "modelyard: can the executors import modelyard?")
        try:
            context.parallelize([0], 1).map(_modelyard_version).collect()
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    thread = threading.Thread(target=probe, name="modelyard-spark-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        context.cancelJobGroup(group)
        raise SparkError(
            f"No Spark executor ran a task within {timeout:.0f} s on {context.master}: check "
            "that workers are registered with free cores and memory for "
            "MODELYARD_SPARK_EXECUTOR_MEMORY (or raise MODELYARD_SPARK_START_TIMEOUT_SECONDS)."
        )
    error = outcome.get("error")
    if error is None:
        return
    if "No module named 'modelyard'" not in str(error):
        raise SparkError(f"A Spark task failed: {_task_error(error)}")
    raise SparkError(
        f"The Spark executors' Python ({python}) cannot import modelyard: install it there "
        f"({INSTALL_HINT}, the same version as here), or point MODELYARD_SPARK_PYTHON at "
        "a Python that has it."
    ) from None


def _modelyard_version(_: object) -> str:
    # Pickled by reference: unpickling it on the executor imports modelyard.
    import modelyard

    return str(getattr(modelyard, "__version__", ""))


# --- shipping a folder ----------------------------------------------------------------


@dataclass(frozen=True)
class Shipped:
    """A folder sent to the executors: `name` for SparkFiles, `digest` of its contents."""

    name: str
    digest: str


def ship_folder(spark: Any, folder: Path, scratch: Path) -> Shipped:
    """Zip `folder` (named by the hash of its files) and add it to the Spark job."""
    digest = folder_digest(folder)
    archive = scratch / f"modelyard-{digest[:24]}.zip"
    if not archive.exists():
        _zip(folder, archive)
    spark.sparkContext.addFile(str(archive))
    return Shipped(archive.name, digest)


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def _zip(folder: Path, archive: Path) -> None:
    partial = archive.with_suffix(f".{os.getpid()}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as bundle:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            bundle.write(path, path.relative_to(folder).as_posix())
    partial.replace(archive)


def unpacked(shipped: Shipped) -> Path:
    """On an executor: the shipped folder, unpacked once per machine and content hash."""
    target = Path(tempfile.gettempdir()) / "modelyard-shipped" / shipped.digest
    if target.is_dir():
        return target
    from pyspark import SparkFiles

    staging = target.with_name(f"{shipped.digest}.{os.getpid()}.partial")
    with zipfile.ZipFile(SparkFiles.get(shipped.name)) as bundle:
        bundle.extractall(staging)
    try:
        staging.replace(target)  # another worker may have won the race: theirs is the same
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# --- running tasks ----------------------------------------------------------------------


def run_tasks(
    spark: Any,
    items: Sequence[Item],
    task: Callable[[Item], int],
    progress: TaskProgress | None = None,
) -> list[int]:
    """Run `task` once per item, each in its own Spark task (retried by Spark on failure);
    return each item's count, reporting (counts so far, tasks done) while they run."""
    context = spark.sparkContext
    counted = context.accumulator(0)
    group = f"modelyard-{os.getpid()}-{time.monotonic_ns()}"

    def one(item: Item) -> int:
        count = task(item)
        counted.add(count)
        return count

    results: dict[str, Any] = {}

    def collect() -> None:
        context.setJobGroup(group, "modelyard tasks")
        try:
            rdd = context.parallelize(list(items), max(1, len(items)))
            results["counts"] = rdd.map(one).collect()
        except BaseException as error:  # handed to the caller's thread below
            results["error"] = error

    worker = threading.Thread(target=collect, name="modelyard-spark-job", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(POLL_SECONDS)
        if progress:
            progress(counted.value, _tasks_done(context, group))
    if "error" in results:
        raise SparkError(f"The Spark job failed: {_task_error(results['error'])}") from None
    counts: list[int] = results["counts"]
    return counts


def _tasks_done(context: Any, group: str) -> int:
    tracker = context.statusTracker()
    done = 0
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        for stage_id in job.stageIds if job else ():
            stage = tracker.getStageInfo(stage_id)
            done += stage.numCompletedTasks if stage else 0
    return done


def _task_error(error: BaseException) -> str:
    """The Python exception a task raised, out of the JVM's report around it."""
    text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raised = [line for line in lines if _looks_raised(line)]
    return raised[-1] if raised else _first_line(error)


def _looks_raised(line: str) -> bool:
    name, separator, _ = line.partition(": ")
    return (
        bool(separator)
        and name.replace(".", "").isidentifier()
        and name[-5:]
        in (
            "Error",
            "ption",
        )
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
