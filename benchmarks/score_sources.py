"""Batch scoring where the data lies (issue 15): `score.py s3` and `score.py cluster`.

    .venv/bin/python benchmarks/score.py s3 --quick        # 1M rows, 1 repetition
    .venv/bin/python benchmarks/score.py s3                # 10M rows, 3 repetitions
    .venv/bin/python benchmarks/score.py cluster --quick
    .venv/bin/python benchmarks/score.py cluster

Same model, data, registry and server as `score.py` (a 20-tree random forest over 20
float64 columns, converted to ONNX; Parquet files of 1M rows in row groups of 250,000).
Each contender is `modelyard score … --json` in a subprocess, timed from start to exit,
in rotating order, `--repeat` times; medians are reported with the load average.

- `s3`: the local engine (`--workers 2`) on the same rows from `s3://` (moto's server,
  started here, the files uploaded first) and from `file://`, output to `file://` both
  times. Peak local disk: every 0.2 s the bytes of every file under the run's TMPDIR (its
  work folder: model, temporary parts) and under the output folder are summed; the target
  is the output alone (no copy of the input). moto serves S3 from Python in this process,
  so the `s3://` rate is a floor set by moto, not by S3.
- `cluster`: a Spark standalone master and two workers (1 core, 512 MB each) started
  here, against Spark in local mode (`local[2]`) and the local engine (`--workers 2`), on
  the same `file://` rows (one Spark task per part of 250,000 rows). Overhead per task is
  (cluster seconds - local-mode seconds) / tasks, and (Spark seconds - local engine
  seconds) / tasks: what a task costs beyond scoring its rows.

Writes `results/score_s3[_quick].json` and `results/score_cluster[_quick].json`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import score

MB = 1e6
DISK_INTERVAL_S = 0.2
ROWS_PER_PART = 250_000
BUCKET = "bench-score"


@dataclass
class Trial:
    contender: str
    repetition: int
    rows: int
    seconds: float
    rows_per_s: int
    peak_disk_mb: float
    peak_scratch_mb: float
    output_mb: float
    peak_rss_tree_mb: float
    cpu_s: float
    others_cores: float
    load_1min: float


# --- local disk ---------------------------------------------------------------------------


def used_bytes(folder: Path) -> int:
    total = 0
    for directory, _, names in os.walk(folder):
        for name in names:
            with suppress(OSError):  # a temporary part renamed away meanwhile
                total += os.stat(os.path.join(directory, name)).st_blocks * 512
    return total


@contextmanager
def disk_watched(scratch: Path, output: Path) -> Iterator[dict[str, int]]:
    peaks = {"disk": 0, "scratch": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            work = used_bytes(scratch)
            peaks["scratch"] = max(peaks["scratch"], work)
            peaks["disk"] = max(peaks["disk"], work + used_bytes(output))
            stop.wait(DISK_INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        stop.set()
        sampler.join()


# --- one trial ------------------------------------------------------------------------------


def run_trial(
    name: str, extra: list[str], environment: dict[str, str], rows: int, work: Path
) -> Trial:
    scratch = Path(tempfile.mkdtemp(prefix="tmp-", dir=work))
    output = work / f"out-{scratch.name}"
    argv = [
        str(score.VENV_BIN / "modelyard"),
        "score",
        f"{score.MODEL}@production",
        *("--output", output.as_uri(), "--rows-per-part", str(ROWS_PER_PART)),
        *extra,
        "--json",
    ]
    env = {**environment, "TMPDIR": str(scratch)}
    score.wait_for_quiet()
    with disk_watched(scratch, output) as peaks:
        run = score.run_watched(argv, env, work / f"{scratch.name}.log")
    scored = score.count_rows(output)
    if scored != rows:
        raise SystemExit(f"{name} wrote {scored:,} rows instead of {rows:,}")
    trial = Trial(
        name,
        0,
        rows,
        round(run.seconds, 3),
        round(rows / run.seconds),
        round(peaks["disk"] / MB, 1),
        round(peaks["scratch"] / MB, 1),
        round(used_bytes(output) / MB, 1),
        round(run.watch.tree_mb, 1),
        round(run.cpu_s, 2),
        round(run.others_cores, 2),
        os.getloadavg()[0],
    )
    shutil.rmtree(output, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return trial


def rotate(
    contenders: list[tuple[str, list[str], dict[str, str]]], rows: int, repeat: int, work: Path
) -> list[Trial]:
    trials = []
    for repetition in range(repeat):
        shift = repetition % len(contenders)
        for name, extra, environment in contenders[shift:] + contenders[:shift]:
            trial = run_trial(name, extra, environment, rows, work)
            trial.repetition = repetition + 1
            trials.append(trial)
            print(
                f"  rep {trial.repetition} {name:<36} {trial.seconds:8.2f} s "
                f"{trial.rows_per_s:>10,} rows/s  disk peak {trial.peak_disk_mb:7.1f} MB "
                f"(work {trial.peak_scratch_mb:.1f}, output {trial.output_mb:.1f})  "
                f"load {trial.load_1min:.1f}",
                flush=True,
            )
    return trials


def medians(trials: list[Trial]) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(t.contender for t in trials):
        mine = [t for t in trials if t.contender == name]
        found[name] = {
            key: statistics.median(getattr(t, key) for t in mine)
            for key in ("seconds", "rows_per_s", "peak_disk_mb", "peak_scratch_mb", "output_mb")
        }
        found[name]["load_1min"] = statistics.median(t.load_1min for t in mine)
    return found


# --- S3 ---------------------------------------------------------------------------------------


@contextmanager
def moto_with(data: Path) -> Iterator[dict[str, str]]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    environment = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    client = boto3.client("s3", endpoint_url=environment["AWS_ENDPOINT_URL"], **_keys())
    client.create_bucket(Bucket=BUCKET)
    started = time.perf_counter()
    for path in sorted(data.glob("*.parquet")):
        client.upload_file(str(path), BUCKET, f"data/{path.name}")
    print(f"uploaded {data} to moto in {time.perf_counter() - started:.1f} s")
    try:
        yield environment
    finally:
        server.stop()


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
        "region_name": "us-east-1",
    }


def s3_contenders(
    registry: score.Registry, data: Path, aws: dict[str, str]
) -> list[tuple[str, list[str], dict[str, str]]]:
    environment = {**registry.environment, **aws}
    workers = ["--workers", str(score.PARALLEL)]
    return [
        ("local engine, s3:// input", ["--input", f"s3://{BUCKET}/data/", *workers], environment),
        ("local engine, file:// input", ["--input", data.as_uri(), *workers], environment),
    ]


def s3_ratios(found: dict[str, dict[str, float]]) -> dict[str, float]:
    s3, local = found["local engine, s3:// input"], found["local engine, file:// input"]
    return {
        "s3_over_file_rows_per_s": round(s3["rows_per_s"] / local["rows_per_s"], 3),
        "s3_peak_disk_over_output": round(s3["peak_disk_mb"] / s3["output_mb"], 3),
    }


# --- the standalone cluster ---------------------------------------------------------------


def spark_home() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the cluster benchmark needs pyspark: pip install pyspark==4.1.0")
    return Path(next(iter(spec.submodule_search_locations)))


@contextmanager
def standalone_cluster(work: Path) -> Iterator[str]:
    home = spark_home()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    master = f"spark://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_DAEMON_JAVA_OPTS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    daemons = [
        ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)],
        *(_worker(master, work / f"worker-{n}") for n in range(2)),
    ]
    processes = []
    log = work / "master.log"
    try:
        for index, daemon in enumerate(daemons):
            with (work / ("master.log" if index == 0 else f"worker-{index}.log")).open("wb") as out:
                argv = [str(home / "bin" / "spark-class"), *daemon, "--webui-port", "0"]
                processes.append(
                    subprocess.Popen(
                        argv,
                        env=environment,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            if index == 0:
                _wait(lambda: _listening(port), "the master")
        _wait(lambda: log.read_text(errors="replace").count("Registering worker") >= 2, "workers")
        yield master
    finally:
        for process in reversed(processes):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _worker(master: str, folder: Path) -> list[str]:
    return [
        "org.apache.spark.deploy.worker.Worker",
        *("--host", "127.0.0.1", "--cores", "1", "--memory", "512m"),
        *("--work-dir", str(folder), master),
    ]


def _listening(port: int) -> bool:
    with suppress(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    return False


def _wait(ready: Any, what: str, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start in {timeout_s:.0f} s")
        time.sleep(0.5)


def cluster_contenders(
    registry: score.Registry, data: Path, master: str
) -> list[tuple[str, list[str], dict[str, str]]]:
    environment = {**registry.environment, "MODELYARD_SPARK_EXECUTOR_MEMORY": "512m"}
    source = ["--input", data.as_uri()]
    return [
        (
            "spark standalone, 2 workers x 1 core",
            [*source, "--engine", "spark", "--spark-master", master],
            environment,
        ),
        (
            "spark local mode, local[2]",
            [*source, "--engine", "spark", "--spark-master", "local[2]"],
            environment,
        ),
        ("local engine, --workers 2", [*source, "--workers", str(score.PARALLEL)], environment),
    ]


def cluster_ratios(found: dict[str, dict[str, float]], tasks: int) -> dict[str, float]:
    cluster = found["spark standalone, 2 workers x 1 core"]["seconds"]
    local_mode = found["spark local mode, local[2]"]["seconds"]
    engine = found["local engine, --workers 2"]["seconds"]
    return {
        "tasks": tasks,
        "cluster_over_local_mode_rows_per_s": round(local_mode / cluster, 3),
        "cluster_overhead_per_task_s": round((cluster - local_mode) / tasks, 3),
        "spark_overhead_per_task_over_local_engine_s": round((cluster - engine) / tasks, 3),
    }


# --- main ------------------------------------------------------------------------------------


def parse_args(mode: str, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"score.py {mode}")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1M rows, 1 repetition")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeat = score.FILE_ROWS, 1
    return args


def main(mode: str, argv: list[str]) -> None:
    args = parse_args(mode, argv)
    stamp = score.run_stamp()
    print(f"source {stamp['source']}, load average {stamp['load_average_start']}")
    work = Path(tempfile.mkdtemp(prefix=f"modelyard-bench-score-{mode}-"))
    try:
        payload = measure(mode, args, work, stamp)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    suffix = "_quick" if args.quick else ("" if args.rows == 10_000_000 else f"_{args.rows}")
    score.write_results(f"score_{mode}{suffix}", payload)


def measure(
    mode: str, args: argparse.Namespace, work: Path, stamp: dict[str, Any]
) -> dict[str, Any]:
    model = score.train(work)
    registry = score.set_up_registry(work, model)
    data = score.prepare_data(work, [args.rows])[args.rows]
    (work / "outputs").mkdir()
    with score.server_running(registry, work):
        if mode == "s3":
            with moto_with(data) as aws:
                trials = rotate(s3_contenders(registry, data, aws), args.rows, args.repeat, work)
            found = medians(trials)
            ratios = s3_ratios(found)
        else:
            with standalone_cluster(work) as master:
                contenders = cluster_contenders(registry, data, master)
                trials = rotate(contenders, args.rows, args.repeat, work)
            found = medians(trials)
            ratios = cluster_ratios(found, -(-args.rows // ROWS_PER_PART))
    for name, figures in found.items():
        print(f"median {name:<36} {figures['rows_per_s']:>10,.0f} rows/s  {figures}")
    print(f"ratios {ratios}")
    stamp["load_average_end"] = list(os.getloadavg())
    return {
        "run": stamp,
        "config": {
            "mode": mode,
            "rows": args.rows,
            "repeat": args.repeat,
            "rows_per_part": ROWS_PER_PART,
            "data_bytes": score.bytes_on_disk(data),
            "model": "RandomForestClassifier(n_estimators=20, max_depth=10), as ONNX",
        },
        "trials": [asdict(trial) for trial in trials],
        "medians": found,
        "ratios": ratios,
    }


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
