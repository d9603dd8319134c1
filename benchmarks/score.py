"""Batch scoring: `modelyard score` against a hand-written pyarrow batch loop, same model.

Issue acceptance: 10,000,000 rows x 20 numeric columns of Parquet scored with a
scikit-learn model; rows/s of `modelyard score` vs a hand-written pyarrow batch loop
calling the same model in the same run (target ratio >= 0.8 on the local engine), and
peak RSS at 1M and 10M rows (target: the same within 20 %, and below 1 GB).

    .venv/bin/python benchmarks/score.py --quick     # 200,000 and 1M rows, 1 repetition, ~1 min
    .venv/bin/python benchmarks/score.py             # 1M and 10M rows, 3 repetitions, ~4 min
    #   (on a quiet machine; each trial waits up to 60 s for one, so up to ~30 min on a busy one)
    .venv/bin/python benchmarks/score.py --rows 5000000 --repeat 2

1. Model: `RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0)` fitted on
   `make_classification(n_samples=5000, n_features=20, random_state=0)`. Converted to ONNX
   it predicts about 1.3M rows/s on one core (onnxruntime, one thread; scikit-learn about
   0.6M), so 10M rows cost ~8 s of model time per core: a run takes seconds to minutes on
   2 cores, not hours, and reading, writing and the engine's own overhead stay a visible
   share of the time, which is what the ratio is meant to expose. A heavier model would
   only push both contenders towards the same model-bound figure.
2. modelyard runs in a throwaway `MODELYARD_HOME` (embedded SQLite) on a copy of `src/`
   taken at the start: `migrate`, a staff user and a token, the model registered with a
   20-column signature and an input example, converted to ONNX by calling the worker task
   `convert_version_to_onnx` directly (no Celery worker runs here), and promoted to
   `production`; then `modelyard server` (gunicorn, 1 process) for the CLI to talk to.
3. Data: 20 float64 columns `f0..f19`, standard normal, written with numpy and
   `pq.ParquetWriter` in row groups of 250,000 rows (never a whole file in memory),
   files of 1M rows: 10 files for 10M rows, 1 file for 1M. Written once, reused by every
   trial.
4. Contenders, each a subprocess timed from start to exit (interpreter start, imports,
   model load and writing included), interleaved in a rotating order, `--repeat` times:
   - `modelyard score bench/forest@production --workers 2` (the machine's cores), and
     `--workers 1` in its own row, so the per-process cost is visible;
   - the hand-written limit (`score.py hand-loop`): for each file
     `ParquetFile.iter_batches(65536, columns=f0..f19)` -> `np.column_stack` -> the ONNX
     file modelyard loads (`onnx/model.onnx`, downloaded from the registry), run by
     onnxruntime with one thread -> label and probabilities through `pq.ParquetWriter`.
     One process (the issue's "hand-written batch loop": the acceptance ratio) and two
     processes over the row groups split in halves (the same parallelism as
     `--workers 2`: the fair comparison). If modelyard ran natively, the loop calls
     `predict_proba` and `predict` of the same estimator instead.
   Before timing, both score the first 10,000 rows; their labels must be identical.
5. Peak RSS: the process tree (the command and its children) is sampled from
   /proc/<pid>/status VmRSS every 50 ms (the tree re-read at each sample for the first 3 s,
   then every 0.5 s); kept are the peak of the sum, of the largest single process and of
   each process. Forked workers share the parent's pages, which the sum counts once per
   process, so the sum of PSS (/proc/<pid>/smaps_rollup, every 250 ms) is kept too.
   `ru_maxrss` from `wait4` is no use here: it survives exec, so it reports this script's
   own size when that is larger.
6. CPU: user + system seconds of each contender (from `wait4`, children included) do not
   depend on what else the shared machine runs, so their ratio is reported beside the
   wall-clock ones; "others" is the rest of the machine's busy time during the trial
   (/proc/stat), in cores: a trial with others near 1 had one core, not two. Before each
   trial the script waits (up to 60 s) for a second in which the machine used at most 0.3
   cores; the wait and that second's use are in each trial's record.

Writes `results/score.json` (`score_quick.json` with --quick, `score_<rows>.json` for
another --rows).

`score.py s3` and `score.py cluster` (issue 15, `score_sources.py`) score the same rows from
`s3://` against `file://` with peak local disk, and on a Spark standalone cluster against
Spark's local mode and the local engine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import common

RESULTS = Path(__file__).resolve().parent / "results"
REPOSITORY = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
FEATURES = 20
COLUMNS = tuple(f"f{index}" for index in range(FEATURES))
FILE_ROWS = 1_000_000
ROW_GROUP_ROWS = 250_000
BATCH_ROWS = 65_536
CHECK_ROWS = 10_000
PARALLEL = 2  # the machine's cores
RSS_INTERVAL_S = 0.05
TREE_RESCAN_S = 0.5
STARTING_S = 3.0
PSS_EVERY = 5  # samples: PSS costs ~0.3 ms a process to read, RSS ~0.04 ms
MODEL = "bench/forest"
ONNX_ARTIFACT = "onnx/model.onnx"
TARGET_RATIO = 0.8
TARGET_RSS_SPREAD = 0.20
TARGET_RSS_MB = 1000.0  # 1 GB, in MB of 10^6 bytes
MB = 1e6
QUIET_CORES = 0.3
QUIET_WAIT_S = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SIGNATURE = {
    "inputs": [{"name": name, "type": "double"} for name in COLUMNS],
    "outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}],
}

REGISTER = """
import io, json, sys
from pathlib import Path

import django

django.setup()
from django.contrib.auth import get_user_model
from django.db import transaction

from modelyard import storage
from modelyard.accounts.services import create_team
from modelyard.deployment import services as deployment
from modelyard.deployment.tasks import convert_version_to_onnx
from modelyard.registry import services
from modelyard.registry.models import Kind

model_path, signature, example, onnx_copy = sys.argv[1:5]
user = get_user_model().objects.get(username="bench")
with transaction.atomic():
    team = create_team(user, "bench", owner=user)
asset = services.create_asset(user, Kind.MODEL, team, "forest")
payload = Path(model_path).read_bytes()
spec = services.VersionSpec(
    flavor="sklearn", signature=json.loads(signature), input_example=json.loads(example)
)
source = services.ArtifactSource(name="model.joblib", stream=io.BytesIO(payload), size=len(payload))
version = services.register_version(user, asset, spec, [source])
converted = convert_version_to_onnx(version.pk)
deployment.promote(user, asset, version, "production", reason="benchmark")
names = sorted(version.artifacts.values_list("name", flat=True))
onnx = version.artifacts.filter(name="onnx/model.onnx").first()
if onnx is not None:
    with storage.get_store(onnx.uri).open(onnx.uri) as handle:
        Path(onnx_copy).write_bytes(handle.read())
print(json.dumps({"ref": version.ref, "conversion": converted, "artifacts": names}))
"""


# --- the hand-written limit (`score.py hand-loop`, run in its own process) -----------------


def hand_loop(model: Path, inputs: Sequence[Path], output: Path, processes: int) -> int:
    """Score every row group of the inputs into output/; returns the rows scored."""
    if processes == 1:
        return _score_slices(str(model), [(str(path), None) for path in inputs], str(output), 0)
    from multiprocessing import get_context

    halves = _split_row_groups(inputs, processes)
    jobs = [(str(model), half, str(output), index) for index, half in enumerate(halves)]
    with get_context("fork").Pool(processes) as pool:
        return sum(pool.starmap(_score_slices, jobs))


def _split_row_groups(inputs: Sequence[Path], processes: int) -> list[list[tuple[str, list[int]]]]:
    """All row groups in order, cut into `processes` contiguous runs, grouped by file."""
    import pyarrow.parquet as pq

    groups = [
        (str(path), index)
        for path in inputs
        for index in range(pq.ParquetFile(path).metadata.num_row_groups)
    ]
    share = -(-len(groups) // processes)
    halves = []
    for start in range(0, len(groups), share):
        by_file: dict[str, list[int]] = {}
        for path, index in groups[start : start + share]:
            by_file.setdefault(path, []).append(index)
        halves.append(list(by_file.items()))
    return halves


def _score_slices(
    model: str, slices: Sequence[tuple[str, list[int] | None]], output: str, worker: int
) -> int:
    predict = _open_model(Path(model))
    rows = 0
    for index, (path, row_groups) in enumerate(slices):
        target = Path(output) / f"loop-{worker}-{index:05d}.parquet"
        rows += _score_file(Path(path), row_groups, predict, target)
    return rows


def _score_file(path: Path, row_groups: list[int] | None, predict: Any, target: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    rows = 0
    batches = pq.ParquetFile(path).iter_batches(
        batch_size=BATCH_ROWS, row_groups=row_groups, columns=list(COLUMNS)
    )
    for batch in batches:
        matrix = np.column_stack([batch.column(i).to_numpy() for i in range(FEATURES)])
        label, probability = predict(matrix)
        table = pa.table(
            {"label": label, "probability_0": probability[:, 0], "probability_1": probability[:, 1]}
        )
        writer = writer or pq.ParquetWriter(target, table.schema)
        writer.write_table(table)
        rows += batch.num_rows
    if writer is not None:
        writer.close()
    return rows


def _open_model(path: Path) -> Any:
    """A function rows -> (label, probability): the ONNX session, or the estimator itself."""
    if path.suffix == ".onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name
        outputs = [output.name for output in session.get_outputs()[:2]]
        return lambda rows: session.run(outputs, {name: rows.astype(np.float32)})
    import joblib

    estimator = joblib.load(path)
    return lambda rows: (estimator.predict(rows), estimator.predict_proba(rows))


def hand_loop_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="score.py hand-loop")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("inputs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = hand_loop(args.model, args.inputs, args.output, args.processes)
    print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - started, 3)}))


# --- data and model --------------------------------------------------------------------------


def write_data(directory: Path, rows: int, seed: int) -> list[Path]:
    """Parquet files of at most FILE_ROWS rows, generated and written one row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True)
    generator = np.random.default_rng(seed)
    schema = pa.schema([(name, pa.float64()) for name in COLUMNS])
    paths = []
    for number, start in enumerate(range(0, rows, FILE_ROWS)):
        path = directory / f"data-{number:03d}.parquet"
        with pq.ParquetWriter(path, schema) as writer:
            file_rows = min(FILE_ROWS, rows - start)
            for group_start in range(0, file_rows, ROW_GROUP_ROWS):
                count = min(ROW_GROUP_ROWS, file_rows - group_start)
                values = generator.standard_normal((FEATURES, count))  # one row per column
                writer.write_table(pa.table(list(values), schema=schema), ROW_GROUP_ROWS)
        paths.append(path)
    return paths


def write_check_input(source: Path, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(source).iter_batches(batch_size=CHECK_ROWS))
    target.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_batches([batch]), target)


@dataclass(frozen=True)
class Model:
    estimator: Any
    joblib_path: Path
    example: list[dict[str, float]]


def train(work: Path) -> Model:
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    features, labels = make_classification(n_samples=5000, n_features=FEATURES, random_state=0)
    estimator = RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0)
    estimator.fit(features, labels)
    path = work / "model.joblib"
    joblib.dump(estimator, path)
    example = [dict(zip(COLUMNS, map(float, row), strict=True)) for row in features[:3]]
    return Model(estimator, path, example)


# --- modelyard: home, registration, server ---------------------------------------------------


@dataclass
class Registry:
    home: Path
    environment: dict[str, str]
    registered: dict[str, Any]
    onnx_path: Path
    server: subprocess.Popen[bytes] | None = None
    url: str = ""


def modelyard_environment(home: Path) -> dict[str, str]:
    """Embedded SQLite under a throwaway home, on the copy of src/ taken at the start."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.pop("MODELYARD_DATABASE_URL", None)
    environment.update(
        {
            "MODELYARD_HOME": str(home),
            "MODELYARD_SECRET_KEY": "benchmark-secret-key-not-for-production",
            "MODELYARD_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "modelyard.settings",
            "PYTHONPATH": str(home / "src"),
        }
    )
    return environment


def set_up_registry(work: Path, model: Model) -> Registry:
    home = work / "home"
    shutil.copytree(
        REPOSITORY / "src" / "modelyard",
        home / "src" / "modelyard",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    environment = modelyard_environment(home)
    _modelyard(environment, "migrate")
    _modelyard(environment, "users", "create", "bench", "--staff")
    token = _modelyard(environment, "token", "create", "bench").strip().splitlines()[-1]
    environment["MODELYARD_TOKEN"] = token
    onnx_path = work / "model.onnx"
    argv = [
        str(VENV_BIN / "python"),
        "-c",
        REGISTER,
        str(model.joblib_path),
        json.dumps(SIGNATURE),
        json.dumps(model.example),
        str(onnx_path),
    ]
    done = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"registering the model failed:\n{done.stderr[-3000:]}")
    registered = json.loads(done.stdout.strip().splitlines()[-1])
    return Registry(home, environment, registered, onnx_path)


def _modelyard(environment: dict[str, str], *args: str) -> str:
    argv = [str(VENV_BIN / "modelyard"), *args]
    done = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"`modelyard {' '.join(args)}` failed:\n{done.stderr[-3000:]}")
    return done.stdout


@contextmanager
def server_running(registry: Registry, work: Path) -> Iterator[None]:
    port = common.free_port()
    argv = [str(VENV_BIN / "modelyard"), "server", "--port", str(port), "--workers", "1"]
    with (work / "server.log").open("wb") as log:
        registry.server = subprocess.Popen(
            argv,
            env=registry.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: its workers stop with it
        )
    registry.url = f"http://127.0.0.1:{port}"
    registry.environment["MODELYARD_URL"] = registry.url
    try:
        _wait_ready(registry, work / "server.log")
        yield
    finally:
        common.stop_group(registry.server)


def _wait_ready(registry: Registry, log: Path, timeout_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    assert registry.server is not None
    while time.monotonic() < deadline and registry.server.poll() is None:
        with suppress(httpx.TransportError):
            if httpx.get(f"{registry.url}/healthz", timeout=2.0).status_code == 200:
                return
        time.sleep(0.25)
    raise SystemExit(f"modelyard server did not start:\n{log.read_text()[-3000:]}")


# --- running one contender and watching its memory -----------------------------------------


@dataclass
class Watch:
    """Peaks of the process tree's resident memory, sampled from /proc."""

    tree_mb: float = 0.0
    single_mb: float = 0.0
    pss_tree_mb: float = 0.0
    processes: int = 0
    samples: int = 0
    per_process_mb: dict[int, float] = field(default_factory=dict)

    def add(self, sizes: dict[int, float]) -> None:
        self.tree_mb = max(self.tree_mb, sum(sizes.values()))
        self.single_mb = max(self.single_mb, max(sizes.values(), default=0.0))
        self.processes = max(self.processes, sum(1 for size in sizes.values() if size > 0))
        for pid, size in sizes.items():
            self.per_process_mb[pid] = max(self.per_process_mb.get(pid, 0.0), size)
        self.samples += 1


def rss_mb(pid: int) -> float:
    return common.proc_kb(pid, "VmRSS") * 1024 / MB


def pss_mb(pid: int) -> float:
    return common.proc_kb(pid, "Pss", "smaps_rollup") * 1024 / MB


def _sample(root: int, stop: threading.Event, watch: Watch) -> None:
    pids: list[int] = []
    began = rescan_at = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= rescan_at:  # at every sample while workers are being started
            pids = common.tree_pids(root)
            rescan_at = now + (TREE_RESCAN_S if now - began > STARTING_S else 0.0)
        watch.add({pid: rss_mb(pid) for pid in pids})
        if watch.samples % PSS_EVERY == 1:
            watch.pss_tree_mb = max(watch.pss_tree_mb, sum(pss_mb(pid) for pid in pids))
        if stop.wait(RSS_INTERVAL_S):
            return


@dataclass
class Trial:
    contender: str
    rows: int
    repetition: int
    seconds: float
    rows_per_s: float
    peak_tree_mb: float
    peak_single_mb: float
    peak_pss_tree_mb: float
    peak_per_process_mb: list[float]  # in order of appearance: the command first
    processes: int
    own_seconds: float | None  # what the command itself reports
    cpu_s: float
    others_cores: float  # the rest of the machine's use during the trial (this script's too)
    busy_before_cores: float  # the machine's use in the second before the trial
    waited_s: float  # for the machine to quieten down before the trial
    load_1m: float


@dataclass(frozen=True)
class Run:
    seconds: float
    watch: Watch
    cpu_s: float  # user + system of the command and the children it waited for
    others_cores: float  # what the rest of the machine used meanwhile, in cores


def run_watched(argv: list[str], environment: dict[str, str], log: Path) -> Run:
    """Run argv to exit, sampling its tree's memory."""
    watch = Watch()
    stop = threading.Event()
    busy_before = machine_busy_s()
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=environment, stdout=output, stderr=subprocess.STDOUT)
    sampler = threading.Thread(target=_sample, args=(process.pid, stop, watch), daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    busy = machine_busy_s() - busy_before
    process.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} … failed:\n{log.read_text()[-3000:]}")
    cpu_s = usage.ru_utime + usage.ru_stime
    return Run(seconds, watch, cpu_s, max(0.0, busy - cpu_s) / seconds)


def wait_for_quiet() -> tuple[float, float]:
    """Wait (at most QUIET_WAIT_S) for a second in which the machine was nearly idle.

    Others share this machine; a trial started while they use a core measures them as much
    as the contender. Returns the seconds waited and the cores busy in the last second.
    """
    started = time.monotonic()
    while True:
        before = machine_busy_s()
        time.sleep(1.0)
        busy = machine_busy_s() - before
        waited = time.monotonic() - started
        if busy <= QUIET_CORES or waited >= QUIET_WAIT_S:
            return waited, busy


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@dataclass(frozen=True)
class Contender:
    name: str
    kind: str  # "modelyard" or "loop"
    parallel: int


CONTENDERS = (
    Contender(f"modelyard --workers {PARALLEL}", "modelyard", PARALLEL),
    Contender("modelyard --workers 1", "modelyard", 1),
    Contender("hand loop, 1 process", "loop", 1),
    Contender(f"hand loop, {PARALLEL} processes", "loop", PARALLEL),
)
ACCEPTED, SINGLE_LOOP, PARALLEL_LOOP = CONTENDERS[0], CONTENDERS[2], CONTENDERS[3]


def contender_argv(
    contender: Contender, registry: Registry, inputs: Path, output: Path, model: Path
) -> list[str]:
    if contender.kind == "modelyard":
        return [
            str(VENV_BIN / "modelyard"),
            "score",
            f"{MODEL}@production",
            "--input",
            inputs.as_uri(),
            "--output",
            output.as_uri(),
            "--workers",
            str(contender.parallel),
            "--batch-size",
            str(BATCH_ROWS),
            "--json",
        ]
    files = sorted(str(path) for path in inputs.glob("*.parquet"))
    script = str(Path(__file__).resolve())
    return [
        str(VENV_BIN / "python"),
        script,
        "hand-loop",
        "--model",
        str(model),
        "--output",
        str(output),
        "--processes",
        str(contender.parallel),
        *files,
    ]


def run_trial(
    contender: Contender, registry: Registry, inputs: Path, rows: int, work: Path, model: Path
) -> tuple[Trial, Path]:
    """One timed run into a fresh output folder; returns the trial and that folder."""
    output = Path(tempfile.mkdtemp(prefix="out-", dir=work / "outputs"))
    if contender.kind == "modelyard":
        output.rmdir()  # modelyard wants an empty or absent folder; it creates it
    argv = contender_argv(contender, registry, inputs, output, model)
    log = work / "logs" / f"{output.name}.log"
    waited_s, busy_before = wait_for_quiet()
    run = run_watched(argv, registry.environment, log)
    watch = run.watch
    scored = count_rows(output)
    if scored != rows:
        raise SystemExit(f"{contender.name} wrote {scored:,} rows instead of {rows:,}; see {log}")
    trial = Trial(
        contender.name,
        rows,
        0,
        round(run.seconds, 3),
        round(rows / run.seconds),
        round(watch.tree_mb, 1),
        round(watch.single_mb, 1),
        round(watch.pss_tree_mb, 1),
        [round(size, 1) for size in watch.per_process_mb.values()],
        watch.processes,
        _own_seconds(log),
        round(run.cpu_s, 2),
        round(run.others_cores, 2),
        round(busy_before, 2),
        round(waited_s, 1),
        os.getloadavg()[0],
    )
    return trial, output


def _own_seconds(log: Path) -> float | None:
    """The `seconds` of the JSON the command printed last (modelyard's spans several lines)."""
    text = log.read_text(errors="replace")
    start = text.rfind("\n{")
    with suppress(ValueError, TypeError, KeyError):
        return float(json.loads(text[start + 1 :])["seconds"])
    return None


def count_rows(output: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(path).num_rows for path in output.glob("*.parquet"))


def clean_output(output: Path) -> None:
    shutil.rmtree(output, ignore_errors=True)
    # modelyard keeps the downloaded model and temporary parts in a folder of its own.
    digest = hashlib.sha256(output.as_uri().encode()).hexdigest()[:16]
    shutil.rmtree(Path(tempfile.gettempdir()) / f"modelyard-score-{digest}", ignore_errors=True)


# --- the check before timing -------------------------------------------------------------------


def check_agreement(registry: Registry, model: Model, data: Path, work: Path) -> dict[str, Any]:
    """Both contenders score the first CHECK_ROWS rows: same labels, and what ran."""
    import pyarrow.parquet as pq

    source = sorted(data.glob("*.parquet"))[0]
    inputs = work / "check-input"
    write_check_input(source, inputs / "check.parquet")
    scoring_model = loop_model(registry, model)
    tables = {}
    for contender in (CONTENDERS[1], SINGLE_LOOP):
        _, output = run_trial(contender, registry, inputs, CHECK_ROWS, work, scoring_model)
        tables[contender.kind] = pq.read_table(sorted(output.glob("*.parquet"))).combine_chunks()
        clean_output(output)
    ours, loop = tables["modelyard"], tables["loop"]
    checked = pq.read_table(inputs / "check.parquet", columns=list(COLUMNS))
    rows = np.column_stack([column.to_numpy() for column in checked.columns])
    native = model.estimator.predict(rows)
    labels = ours.column("label").to_numpy()
    result = {
        "rows": CHECK_ROWS,
        "labels_differ": int(np.count_nonzero(labels != loop.column("label").to_numpy())),
        "labels_differ_from_sklearn": int(np.count_nonzero(labels != native)),
        "label_1_share": round(float(np.mean(labels == 1)), 3),
        "probability_max_difference": float(
            np.max(np.abs(_probability(ours) - _probability(loop)))
        ),
        "modelyard_output_schema": {f.name: str(f.type) for f in ours.schema},
        "loop_output_schema": {f.name: str(f.type) for f in loop.schema},
    }
    result["passed"] = result["labels_differ"] == 0
    return result


def _probability(table: Any) -> Any:
    return table.column("probability_1").to_numpy()


def loop_model(registry: Registry, model: Model) -> Path:
    """The ONNX file modelyard serves when the version has one, else the pickled estimator."""
    return registry.onnx_path if registry.onnx_path.exists() else model.joblib_path


# --- the run -------------------------------------------------------------------------------------


def run_all(
    registry: Registry, sizes: Sequence[int], data: dict[int, Path], args: argparse.Namespace
) -> list[Trial]:
    work: Path = args.work
    scoring_model = loop_model(registry, args.model)
    trials = []
    for repetition in range(args.repeat):
        for rows in sizes:
            shift = (repetition + sizes.index(rows)) % len(CONTENDERS)
            for contender in CONTENDERS[shift:] + CONTENDERS[:shift]:
                trial, output = run_trial(
                    contender, registry, data[rows], rows, work, scoring_model
                )
                clean_output(output)
                trial.repetition = repetition + 1
                trials.append(trial)
                print(trial_line(trial), flush=True)
    return trials


def trial_line(trial: Trial) -> str:
    return (
        f"  rep {trial.repetition}  {trial.rows:>10,} rows  {trial.contender:<25} "
        f"{trial.seconds:8.2f} s {trial.rows_per_s:>11,} rows/s  RSS tree {trial.peak_tree_mb:6.0f}"
        f" MB, largest {trial.peak_single_mb:5.0f}, PSS {trial.peak_pss_tree_mb:5.0f} MB "
        f"({trial.processes} proc)  cpu {trial.cpu_s:5.1f} s  others {trial.others_cores:.1f} "
        f"cores (before {trial.busy_before_cores:.1f}, waited {trial.waited_s:.0f} s)"
    )


def summarize(trials: Sequence[Trial], sizes: Sequence[int]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for rows in sizes:
        per_contender = {}
        for contender in CONTENDERS:
            mine = [t for t in trials if t.rows == rows and t.contender == contender.name]
            seconds = statistics.median(t.seconds for t in mine)
            per_contender[contender.name] = {
                "trials_s": [t.seconds for t in mine],
                "median_s": round(seconds, 3),
                "rows_per_s": round(rows / seconds),
                "peak_tree_mb_median": round(statistics.median(t.peak_tree_mb for t in mine), 1),
                "peak_tree_mb_max": max(t.peak_tree_mb for t in mine),
                "peak_single_mb_median": round(
                    statistics.median(t.peak_single_mb for t in mine), 1
                ),
                "peak_pss_tree_mb_median": round(
                    statistics.median(t.peak_pss_tree_mb for t in mine), 1
                ),
                "own_s_median": _median_or_none([t.own_seconds for t in mine]),
                "cpu_s_median": round(statistics.median(t.cpu_s for t in mine), 2),
                "processes": max(t.processes for t in mine),
                "others_cores": [t.others_cores for t in mine],
            }
        summary[str(rows)] = per_contender
    return summary


def _median_or_none(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 3) if present else None


RATIOS = (  # name, numerator, denominator: rows/s over rows/s
    ("acceptance", ACCEPTED, SINGLE_LOOP),
    ("fair", ACCEPTED, PARALLEL_LOOP),
    ("per_process", CONTENDERS[1], SINGLE_LOOP),
)


def ratios(summary: dict[str, Any], trials: Sequence[Trial], rows: int) -> dict[str, Any]:
    """Each ratio of the medians, and the median of the ratios within each repetition (whose
    contenders ran minutes apart at most, under much the same load)."""
    at = summary[str(rows)]
    found: dict[str, Any] = {}
    for name, mine, theirs in RATIOS:
        paired = [_paired(trials, rows, repetition, mine, theirs) for repetition in _reps(trials)]
        found[name] = {
            "ratio": f"{mine.name} / {theirs.name}, rows/s",
            "of_medians": round(at[mine.name]["rows_per_s"] / at[theirs.name]["rows_per_s"], 3),
            "per_repetition": paired,
            "median_of_paired": round(statistics.median(paired), 3),
            # CPU seconds hardly depend on what else the machine runs: the engine's overhead.
            "cpu_seconds": round(
                at[theirs.name]["cpu_s_median"] / at[mine.name]["cpu_s_median"], 3
            ),
        }
    return found


def _reps(trials: Sequence[Trial]) -> list[int]:
    return sorted({trial.repetition for trial in trials})


def _paired(
    trials: Sequence[Trial], rows: int, repetition: int, mine: Contender, theirs: Contender
) -> float:
    def seconds(contender: Contender) -> float:
        return next(
            t.seconds
            for t in trials
            if (t.rows, t.repetition, t.contender) == (rows, repetition, contender.name)
        )

    return round(seconds(theirs) / seconds(mine), 3)


def verdicts(
    summary: dict[str, Any], found: dict[str, Any], sizes: Sequence[int]
) -> dict[str, Any]:
    small, large = str(sizes[0]), str(sizes[-1])
    acceptance = found[str(sizes[-1])]["acceptance"]["of_medians"]
    rss_small = summary[small][ACCEPTED.name]["peak_tree_mb_median"]
    rss_large = summary[large][ACCEPTED.name]["peak_tree_mb_median"]
    spread = rss_large / rss_small - 1
    processes = [summary[size][ACCEPTED.name]["processes"] for size in (small, large)]
    unlike = (
        f"; not comparable: {processes[0]} vs {processes[1]} processes (one part runs in the "
        "command's own process)"
        if processes[0] != processes[1]
        else ""
    )
    return {
        "throughput": _verdict(acceptance >= TARGET_RATIO, f"ratio {acceptance:.2f} >= 0.8"),
        "rss_same": _verdict(
            abs(spread) <= TARGET_RSS_SPREAD,
            f"peak RSS {rss_large:.0f} MB at {int(large):,} rows vs {rss_small:.0f} MB at "
            f"{int(small):,}: {spread:+.0%} (within 20 %){unlike}",
        ),
        "rss_below_1gb": _verdict(
            rss_large < TARGET_RSS_MB, f"peak RSS {rss_large:.0f} MB < {TARGET_RSS_MB:.0f} MB"
        ),
    }


def _verdict(passed: bool, text: str) -> dict[str, Any]:
    return {"passed": passed, "text": f"{'PASS' if passed else 'FAIL'}: {text}"}


def print_table(summary: dict[str, Any], sizes: Sequence[int]) -> None:
    print(
        f"\n{'rows':>10}  {'contender':<25} {'median s':>9} {'rows/s':>11} "
        f"{'RSS tree MB':>11} {'largest MB':>10} {'PSS tree MB':>11} {'CPU s':>6}"
    )
    for rows in sizes:
        for name, figures in summary[str(rows)].items():
            print(
                f"{rows:>10,}  {name:<25} {figures['median_s']:9.2f} {figures['rows_per_s']:>11,}"
                f" {figures['peak_tree_mb_median']:11.0f} {figures['peak_single_mb_median']:10.0f}"
                f" {figures['peak_pss_tree_mb_median']:11.0f} {figures['cpu_s_median']:6.1f}"
            )


def print_ratios(found: dict[str, Any], sizes: Sequence[int]) -> None:
    print("\nratios (>= 0.8 is the target; the acceptance one at the largest size decides):")
    for rows in sizes:
        for name, figures in found[str(rows)].items():
            print(
                f"{rows:>10,}  {name:<11} {figures['ratio']:<58} {figures['of_medians']:5.2f}"
                f"  (paired {figures['median_of_paired']:.2f}, CPU s {figures['cpu_seconds']:.2f})"
            )


# --- run information -----------------------------------------------------------------------------


def run_stamp() -> dict[str, Any]:
    head = _git("rev-parse", "--short", "HEAD")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": head + ("+dirty" if _git("status", "--porcelain", "--", "src") else ""),
        "cpus": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "load_average_start": list(os.getloadavg()),
        "versions": {
            name: metadata.version(name)
            for name in ("pyarrow", "onnxruntime", "scikit-learn", "skl2onnx", "numpy")
        },
        "python": sys.version.split()[0],
    }


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True)
    return done.stdout.strip()


def bytes_on_disk(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.glob("*.parquet"))


def results_name(args: argparse.Namespace) -> str:
    if args.quick:
        return "score_quick"
    return "score" if args.rows == 10_000_000 else f"score_{args.rows}"


def write_results(name: str, payload: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path.relative_to(REPOSITORY)}")


# --- main ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200,000 and 1M rows, 1 repetition")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeat = FILE_ROWS, 1
        args.sizes = [200_000, FILE_ROWS]
    else:
        args.sizes = sorted({FILE_ROWS, args.rows})
    return args


def prepare_data(work: Path, sizes: Sequence[int]) -> dict[int, Path]:
    data = {}
    for seed, rows in enumerate(sizes):
        started = time.perf_counter()
        data[rows] = work / "data" / f"rows-{rows}"
        write_data(data[rows], rows, seed)
        print(
            f"data: {rows:,} rows in {len(list(data[rows].glob('*.parquet')))} files, "
            f"{bytes_on_disk(data[rows]) / MB:,.0f} MB, written in "
            f"{time.perf_counter() - started:.1f} s"
        )
    return data


def main() -> None:
    args = parse_args()
    stamp = run_stamp()
    print(f"source {stamp['source']}, load average {stamp['load_average_start']}")
    args.work = Path(tempfile.mkdtemp(prefix="modelyard-bench-score-"))
    (args.work / "outputs").mkdir()
    (args.work / "logs").mkdir()
    try:
        payload = measure(args, stamp)
    finally:
        if args.keep:
            print(f"kept {args.work}")
        else:
            shutil.rmtree(args.work, ignore_errors=True)
    write_results(results_name(args), payload)


def measure(args: argparse.Namespace, stamp: dict[str, Any]) -> dict[str, Any]:
    args.model = train(args.work)
    registry = set_up_registry(args.work, args.model)
    ran_as_onnx = ONNX_ARTIFACT in registry.registered["artifacts"]
    print(f"registered {registry.registered['ref']}: ONNX conversion {registry.registered}")
    data = prepare_data(args.work, args.sizes)
    with server_running(registry, args.work):
        check = check_agreement(registry, args.model, data[args.sizes[0]], args.work)
        print(f"check on {CHECK_ROWS:,} rows: {check['labels_differ']} labels differ")
        if not check["passed"]:
            raise SystemExit(f"the contenders disagree: {check}")
        trials = run_all(registry, args.sizes, data, args)
    summary = summarize(trials, args.sizes)
    print_table(summary, args.sizes)
    found = {str(rows): ratios(summary, trials, rows) for rows in args.sizes}
    checks = verdicts(summary, found, args.sizes)
    print_ratios(found, args.sizes)
    for verdict in checks.values():
        print(verdict["text"])
    stamp["load_average_end"] = list(os.getloadavg())
    return {
        "run": stamp,
        "config": {
            "sizes": args.sizes,
            "repeat": args.repeat,
            "model": "RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0)",
            "training": "make_classification(n_samples=5000, n_features=20, random_state=0)",
            "batch_rows": BATCH_ROWS,
            "row_group_rows": ROW_GROUP_ROWS,
            "file_rows": FILE_ROWS,
            "rss_interval_s": RSS_INTERVAL_S,
            "data_bytes": {str(rows): bytes_on_disk(path) for rows, path in data.items()},
        },
        "model": {
            **registry.registered,
            "ran_as_onnx": ran_as_onnx
            and check["modelyard_output_schema"].get("probability_1") == "float",
            "loop_model": loop_model(registry, args.model).name,
        },
        "check": check,
        "trials": [asdict(trial) for trial in trials],
        "medians": summary,
        "ratios": found,
        "acceptance_ratio_is": f"{ACCEPTED.name} / {SINGLE_LOOP.name}, at {args.sizes[-1]:,} rows",
        "verdicts": checks,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["hand-loop"]:
        hand_loop_main(sys.argv[2:])
    elif sys.argv[1:2] in (["s3"], ["cluster"]):  # issue 15: where the data lies
        import score_sources

        score_sources.main(sys.argv[1], sys.argv[2:])
    else:
        main()
