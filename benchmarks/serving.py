"""Online inference: `modelyard serve` against `mlflow models serve` and a hand-written limit.

Issue acceptance: the same scikit-learn model (RandomForestClassifier, 100 trees, 20
numeric features) behind (a) `mlflow models serve` (latest MLflow, local env manager),
(b) `modelyard serve`, (c) `minimal_onnx_app.py`, a Starlette + onnxruntime app that is
the limit; wrk at concurrency 1, 8 and 64. Targets: modelyard >= 0.8 x the limit's req/s
at every concurrency, its p99 at 64 <= 1.25 x the limit's, >= 25 x MLflow's req/s; a
10-minute soak at 64 with zero errors and RSS growth under 5 %.

    .venv/bin/python benchmarks/serving.py --quick      # 1 s warm-up + 2 s runs, once, < 1 min
    .venv/bin/python benchmarks/serving.py              # 3 repetitions of 5 + 20 s, ~13 min
    .venv/bin/python benchmarks/serving.py --soak 600   # plus the 10-minute soak
    .venv/bin/python benchmarks/serving.py --workers 2  # 2 workers for modelyard, the limit, MLflow

Writes results/serving.json (serving_quick.json, serving_workers2.json). A copy of src/
without a `modelyard serve` command is reported as "not available" and the others are
still measured.

1. Setup (kept between runs): wrk from Debian's package; MLflow and scikit-learn, latest,
   in their own virtualenv outside the repository (`--mlflow-venv`); starlette in the
   project's. One model is trained here and saved three ways: an MLflow model (saved by
   the MLflow venv's python, `predict_proba` as its pyfunc), `model.joblib` registered in
   a throwaway embedded modelyard (alias `production`), and ONNX (skl2onnx, float input,
   no zipmap). modelyard runs on a copy of `src/` taken at the start.
2. Each server is started alone on a free port and asked for 100 rows in one request;
   its predicted classes must equal scikit-learn's and its probabilities for the first
   row must match them, before anything is timed.
3. wrk, 1 thread, `--timeout 30s` (wrk leaves timed-out requests out of its latencies),
   POSTs one row per request: a warm-up, then the measured run, at each concurrency.
   Each repetition starts every server afresh, in a rotating order. Errors (socket
   errors, HTTP status >= 400) are counted from wrk's `done` hook and flag the trial.
   RSS is summed over the server's process tree, from /proc, after start and at the end.
   CPU during each measured run is split, in % of one core, into the server's processes
   (one figure per process: shows how connections spread over workers), wrk, and the rest
   of the machine ("other"): this 2-core machine is shared, and "other" says how much a
   figure may have been squeezed.
4. `--soak S`: modelyard alone at concurrency 64 for S seconds, RSS sampled every 10 s;
   growth is measured from the first sample after 30 s to the last.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import common

RESULTS = Path(__file__).resolve().parent / "results"
REPOSITORY = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CONCURRENCIES = (1, 8, 64)
FEATURES = 20
CHECK_ROWS = 100
WRK_TIMEOUT = "30s"
RSS_INTERVAL_S = 10.0
SOAK_SETTLE_S = 30.0
TARGET_THROUGHPUT = 0.8
TARGET_P99 = 1.25
TARGET_OVER_MLFLOW = 25.0
TARGET_SOAK_GROWTH_PCT = 5.0
MLFLOW, MODELYARD, MINIMAL = "mlflow", "modelyard", "minimal"


# --- setup ----------------------------------------------------------------------------------


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("installing wrk (apt-get)")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=True)
        subprocess.run(install, capture_output=True, check=True)


def ensure_mlflow(venv: Path) -> None:
    """MLflow lives in its own virtualenv: its pins must never touch the project's."""
    if (venv / "bin" / "mlflow").exists():
        return
    print(f"creating {venv} with the latest mlflow and scikit-learn (a few minutes)")
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "mlflow", "scikit-learn"], check=True)


def ensure_starlette() -> bool:
    """Install starlette into the project's venv for the limit app; True if it was missing."""
    try:
        metadata.version("starlette")
    except metadata.PackageNotFoundError:
        print("installing starlette into the project's virtualenv")
        pip = [sys.executable, "-m", "pip", "install", "-q", "starlette"]
        subprocess.run(pip, check=True)
        return True
    return False


def versions(mlflow_venv: Path) -> dict[str, str]:
    mlflow_python = str(mlflow_venv / "bin" / "python")
    probe = "import sklearn, sys; print(sklearn.__version__, sys.version.split()[0])"
    mlflow_sklearn, mlflow_venv_python = _output([mlflow_python, "-c", probe]).split()
    found = {
        "python": sys.version.split()[0],
        "wrk": _output(["wrk", "-v"]).splitlines()[0],
        "mlflow": _output([str(mlflow_venv / "bin" / "mlflow"), "--version"]),
        "mlflow_venv_python": mlflow_venv_python,
        "mlflow_venv_scikit_learn": mlflow_sklearn,
    }
    for package in ("scikit-learn", "onnxruntime", "skl2onnx", "numpy", "starlette"):
        found[package] = metadata.version(package)
    for package in ("uvicorn", "httptools", "uvloop", "orjson", "gunicorn"):
        found[package] = metadata.version(package)
    return found


def _output(argv: list[str], env: dict[str, str] | None = None) -> str:
    # wrk -v prints its banner and exits 1; the text is all we want.
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    return (done.stdout or done.stderr).strip()


# --- the model, three ways ------------------------------------------------------------------


@dataclass
class Models:
    rows: np.ndarray[Any, Any]  # the first CHECK_ROWS rows of the training data
    labels: list[int]  # scikit-learn's predicted classes for them
    probabilities: list[list[float]]
    joblib_path: Path
    onnx_path: Path
    mlflow_path: Path


SAVE_MLFLOW = """
import json, sys
import joblib, mlflow.pyfunc, mlflow.sklearn, numpy as np
from mlflow.models import infer_signature

model_path, target, rows_path = sys.argv[1:]
estimator = joblib.load(model_path)
rows = np.load(rows_path)
signature = infer_signature(rows, estimator.predict_proba(rows))
# MLflow 3 saves with skops by default, which asks for the tree type to be trusted.
mlflow.sklearn.save_model(estimator, target, signature=signature,
                          pyfunc_predict_fn="predict_proba",
                          skops_trusted_types=["sklearn.tree._tree.Tree"])
loaded = mlflow.pyfunc.load_model(target)
print(json.dumps(np.asarray(loaded.predict(rows)).argmax(axis=1).tolist()))
"""


def train(work: Path, mlflow_venv: Path) -> Models:
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    features, target = make_classification(n_samples=2000, n_features=FEATURES, random_state=0)
    estimator = RandomForestClassifier(n_estimators=100, random_state=0).fit(features, target)
    rows = features[:CHECK_ROWS]
    joblib_path = work / "model.joblib"
    joblib.dump(estimator, joblib_path)
    np.save(work / "rows.npy", rows)
    models = Models(
        rows=rows,
        labels=[int(label) for label in estimator.predict(rows)],
        probabilities=estimator.predict_proba(rows).tolist(),
        joblib_path=joblib_path,
        onnx_path=_save_onnx(estimator, work / "forest.onnx"),
        mlflow_path=work / "mlflow-model",
    )
    _save_mlflow(models, work, mlflow_venv)
    _check_onnx(models)
    return models


def _save_onnx(estimator: Any, path: Path) -> Path:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model = convert_sklearn(
        estimator,
        initial_types=[("input", FloatTensorType([None, FEATURES]))],
        options={id(estimator): {"zipmap": False}},
    )
    path.write_bytes(onnx_model.SerializeToString())
    return path


def _save_mlflow(models: Models, work: Path, mlflow_venv: Path) -> None:
    argv = [str(mlflow_venv / "bin" / "python"), "-c", SAVE_MLFLOW]
    argv += [str(models.joblib_path), str(models.mlflow_path), str(work / "rows.npy")]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"saving the MLflow model failed:\n{done.stderr[-3000:]}")
    labels = json.loads(done.stdout.strip().splitlines()[-1])
    if labels != models.labels:
        raise SystemExit("the MLflow model, loaded back, predicts other classes than sklearn")


def _check_onnx(models: Models) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(models.onnx_path))
    labels, _ = session.run(None, {"input": models.rows.astype(np.float32)})
    if labels.tolist() != models.labels:
        raise SystemExit("the ONNX model predicts other classes than sklearn")


# --- modelyard: an embedded registry with the model in it -----------------------------------


REGISTER = """
import json, sys
from io import BytesIO
import django

django.setup()
from modelyard.accounts.services import create_team
from modelyard.registry import services
from modelyard.registry.models import Kind

model_path, example = sys.argv[1], json.loads(sys.argv[2])
payload = open(model_path, "rb").read()
team = create_team(None, "bench", display_name="Serving benchmark")
asset = services.create_asset(None, Kind.MODEL, team, "forest")
signature = {
    "inputs": [{"name": f"f{i}", "type": "double"} for i in range(len(example))],
    "outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}],
}
with_example = "input_example" in services.VersionSpec.__dataclass_fields__
extra = {"input_example": [example]} if with_example else {}
spec = services.VersionSpec(flavor="sklearn", signature=signature, **extra)
source = services.ArtifactSource(name="model.joblib", stream=BytesIO(payload), size=len(payload))
version = services.register_version(None, asset, spec, [source])
services.set_alias(None, asset, "production", version)
print(json.dumps({"version": version.version, "input_example": with_example}))
"""


def modelyard_environment(home: Path) -> dict[str, str]:
    """Embedded SQLite under a throwaway home, and the copy of src/ taken at the start."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.pop("MODELYARD_DATABASE_URL", None)
    environment.update(
        {
            "MODELYARD_HOME": str(home),
            "MODELYARD_SECRET_KEY": "benchmark-secret-key-not-for-production",
            "DJANGO_SETTINGS_MODULE": "modelyard.settings",
            "PYTHONPATH": str(home / "src"),
        }
    )
    return environment


def register_in_modelyard(home: Path, models: Models) -> dict[str, Any]:
    shutil.copytree(
        REPOSITORY / "src" / "modelyard",
        home / "src" / "modelyard",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    environment = modelyard_environment(home)
    modelyard = str(VENV_BIN / "modelyard")
    subprocess.run([modelyard, "migrate"], env=environment, check=True, capture_output=True)
    example = json.dumps(models.rows[0].tolist())
    argv = [sys.executable, "-c", REGISTER, str(models.joblib_path), example]
    done = subprocess.run(argv, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"registering the model in modelyard failed:\n{done.stderr[-3000:]}")
    registered: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return registered


def serve_available(home: Path) -> tuple[bool, str]:
    """`modelyard serve` may not exist yet in the copy of src/ this run uses."""
    argv = [str(VENV_BIN / "modelyard"), "serve", "--help"]
    done = subprocess.run(argv, env=modelyard_environment(home), capture_output=True, text=True)
    if done.returncode == 0:
        return True, ""
    return False, (done.stderr or done.stdout).strip().splitlines()[-1]


# --- servers --------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    command: list[str]  # "{port}" stands for the port it is given
    environment: dict[str, str]
    ready_path: str
    infer_path: str
    body: Callable[[np.ndarray[Any, Any]], bytes]
    probabilities: Callable[[Any], list[list[float]]]
    available: bool = True
    reason: str = ""

    def argv(self, port: int) -> list[str]:
        return [part.replace("{port}", str(port)) for part in self.command]


@dataclass
class Running:
    server: Server
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.server.infer_path}"


def v2_body(rows: np.ndarray[Any, Any]) -> bytes:
    tensor = {
        "name": "input",
        "shape": list(rows.shape),
        "datatype": "FP64",
        "data": rows.ravel().tolist(),
    }
    return json.dumps({"inputs": [tensor]}).encode()


def v2_probabilities(response: Any) -> list[list[float]]:
    """The output tensor of two probabilities per row (named `probability...` if several)."""
    outputs = [o for o in response["outputs"] if o["datatype"].startswith("FP")]
    named = [o for o in outputs if o["name"].startswith("prob")]
    tensor = (named or outputs)[0]
    probabilities: list[list[float]] = np.reshape(tensor["data"], (-1, 2)).tolist()
    return probabilities


def mlflow_body(rows: np.ndarray[Any, Any]) -> bytes:
    return json.dumps({"inputs": rows.tolist()}).encode()


def mlflow_probabilities(response: Any) -> list[list[float]]:
    probabilities: list[list[float]] = np.asarray(response["predictions"]).tolist()
    return probabilities


def build_servers(models: Models, args: argparse.Namespace, home: Path) -> list[Server]:
    mlflow_bin = args.mlflow_venv / "bin"
    mlflow_environment = dict(os.environ, PATH=f"{mlflow_bin}{os.pathsep}{os.environ['PATH']}")
    mlflow_environment.pop("PYTHONPATH", None)
    workers = str(args.workers)
    available, reason = serve_available(home)
    mlflow = [str(mlflow_bin / "mlflow"), "models", "serve", "-m", str(models.mlflow_path)]
    mlflow += ["--env-manager", "local", "-h", "127.0.0.1", "-p", "{port}", "-w", workers]
    modelyard = [str(VENV_BIN / "modelyard"), "serve", "--models", "bench/forest"]
    modelyard += ["--host", "127.0.0.1", "--port", "{port}", "--workers", workers]
    minimal = [sys.executable, str(Path(__file__).with_name("minimal_onnx_app.py"))]
    minimal += ["--model", str(models.onnx_path), "--port", "{port}", "--workers", workers]
    return [
        Server(
            MLFLOW,
            mlflow,
            mlflow_environment,
            "/ping",
            "/invocations",
            mlflow_body,
            mlflow_probabilities,
        ),
        Server(
            MODELYARD,
            modelyard,
            modelyard_environment(home),
            "/v2/health/ready",
            "/v2/models/forest/infer",
            v2_body,
            v2_probabilities,
            available,
            reason,
        ),
        Server(
            MINIMAL,
            minimal,
            dict(os.environ),
            "/v2/health/ready",
            "/v2/models/forest/infer",
            v2_body,
            v2_probabilities,
        ),
    ]


@contextmanager
def running(server: Server, work: Path) -> Iterator[Running]:
    port = common.free_port()
    log = work / f"{server.name}-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            server.argv(port),
            env=server.environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its workers stop with it
        )
    handle = Running(server, process, port, log)
    try:
        _wait_ready(handle)
        yield handle
    finally:
        common.stop_group(process)


def _wait_ready(handle: Running, timeout_s: float = 180.0) -> None:
    import httpx

    url = f"http://127.0.0.1:{handle.port}{handle.server.ready_path}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            break
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    tail = handle.log.read_text(errors="replace")[-3000:]
    raise ServerFailed(f"{handle.server.name} did not become ready on {url}:\n{tail}")


class ServerFailed(RuntimeError):
    pass


def check_predictions(handle: Running, models: Models) -> dict[str, Any]:
    """One request with the 100 check rows: same classes, same probabilities for row 0."""
    import httpx

    headers = {"Content-Type": "application/json"}
    body = handle.server.body(models.rows)
    response = httpx.post(handle.url, content=body, headers=headers, timeout=60.0)
    if response.status_code != 200:
        return {"ok": False, "error": f"HTTP {response.status_code}: {response.text[:300]}"}
    try:
        probabilities = handle.server.probabilities(response.json())
    except (KeyError, IndexError, ValueError, TypeError) as error:
        return {"ok": False, "error": f"unexpected response {response.text[:300]}: {error!r}"}
    labels = [int(np.argmax(row)) for row in probabilities]
    differing = sum(a != b for a, b in zip(labels, models.labels, strict=False))
    gap = float(np.max(np.abs(np.subtract(probabilities[0], models.probabilities[0]))))
    ok = len(labels) == CHECK_ROWS and differing == 0 and gap < 1e-4
    return {
        "ok": ok,
        "rows": len(labels),
        "labels_differing": differing,
        "row0_probabilities": probabilities[0],
        "row0_max_abs_difference": gap,
    }


# --- load -----------------------------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def wrk_script(server: Server, models: Models, work: Path) -> Path:
    path = work / f"{server.name}.lua"
    body = server.body(models.rows[:1]).decode()
    path.write_text(WRK_SCRIPT.format(body=body))
    return path


def start_wrk(url: str, script: Path, connections: int, seconds: float) -> subprocess.Popen[str]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", WRK_TIMEOUT]
    argv += ["--latency", "-s", str(script), url]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_wrk(url: str, script: Path, connections: int, seconds: float) -> dict[str, Any]:
    with start_wrk(url, script, connections, seconds) as load:
        stdout, stderr = load.communicate(timeout=seconds + 120)
    return wrk_result(stdout + stderr)


def wrk_result(output: str) -> dict[str, Any]:
    line = next((x for x in output.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    raw = json.loads(line.removeprefix("WRK_RESULT "))
    errors = {key: raw[key] for key in ("connect", "read", "write", "status", "timeout")}
    return {
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "requests": raw["requests"],
        "errors": errors,
        "error_count": sum(errors.values()),
    }


def tree_rss_mb(root: int) -> float:
    return round(sum(common.proc_kb(pid, "VmRSS") for pid in common.tree_pids(root)) / 1024, 1)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class CpuMark:
    """CPU seconds so far: the whole machine, each server process, reaped children (wrk)."""

    machine: float
    processes: dict[int, float]
    reaped: float

    @classmethod
    def take(cls, root: int) -> CpuMark:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ticks = [int(value) for value in fields[:8]]
        busy = sum(ticks) - ticks[3] - ticks[4]  # less idle and iowait
        processes = {pid: _process_cpu_s(pid) for pid in common.tree_pids(root)}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime
        return cls(busy / CLOCK_TICKS, processes, reaped)


def _process_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def cpu_shares(before: CpuMark, after: CpuMark, seconds: float) -> dict[str, Any]:
    """Percent of one core: the server (per process), wrk and this script, everything else."""
    per_process = sorted(
        (round(100 * (after.processes[pid] - before.processes.get(pid, 0.0)) / seconds, 1)
         for pid in after.processes),
        reverse=True,
    )  # fmt: skip
    server = sum(per_process)
    load = 100 * (after.reaped - before.reaped) / seconds
    machine = 100 * (after.machine - before.machine) / seconds
    return {
        "server": round(server, 1),
        "server_processes": per_process,
        "wrk_and_script": round(load, 1),
        "other": round(max(0.0, machine - server - load), 1),
    }


@dataclass
class Results:
    trials: dict[str, dict[int, list[dict[str, Any]]]] = field(default_factory=dict)
    starts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


def measure_server(
    server: Server, models: Models, args: argparse.Namespace, work: Path, results: Results
) -> None:
    """Start the server, check it once, then warm up and measure at each concurrency."""
    script = wrk_script(server, models, work)
    started = time.monotonic()
    with running(server, work) as handle:
        start: dict[str, Any] = {
            "ready_s": round(time.monotonic() - started, 1),
            "load_average": os.getloadavg()[0],
            "rss_mb_ready": tree_rss_mb(handle.process.pid),
        }
        if server.name not in results.checks:
            results.checks[server.name] = check_predictions(handle, models)
        for connections in CONCURRENCIES:
            run_wrk(handle.url, script, connections, args.warmup)
            before = CpuMark.take(handle.process.pid)
            began = time.monotonic()
            trial = run_wrk(handle.url, script, connections, args.duration)
            after = CpuMark.take(handle.process.pid)
            trial["cpu_pct"] = cpu_shares(before, after, time.monotonic() - began)
            results.trials.setdefault(server.name, {}).setdefault(connections, []).append(trial)
            print(trial_line(server.name, connections, trial))
        start["rss_mb_end"] = tree_rss_mb(handle.process.pid)
    results.starts.setdefault(server.name, []).append(start)


def trial_line(name: str, connections: int, trial: dict[str, Any]) -> str:
    cpu = trial["cpu_pct"]
    flag = f"  ERRORS {trial['errors']}" if trial["error_count"] else ""
    return (
        f"  {name:<10} c={connections:<3} {trial['requests_per_s']:>9,.1f} req/s"
        f"  p50 {trial['p50_ms']:7.2f} ms  p99 {trial['p99_ms']:8.2f} ms"
        f"  cpu% server {cpu['server_processes']} wrk {cpu['wrk_and_script']:.0f}"
        f" other {cpu['other']:.0f}{flag}"
    )


def measure_all(
    servers: list[Server], models: Models, args: argparse.Namespace, work: Path
) -> Results:
    results = Results()
    usable = [server for server in servers if server.available]
    for repetition in range(args.repeat):
        shift = repetition % len(usable)
        order = usable[shift:] + usable[:shift]
        print(f"repetition {repetition + 1}/{args.repeat}: {', '.join(s.name for s in order)}")
        for server in order:
            try:
                measure_server(server, models, args, work, results)
            except ServerFailed as error:
                print(error)
                server.available, server.reason = False, str(error).splitlines()[0]
    return results


def soak(server: Server, models: Models, seconds: float, work: Path) -> dict[str, Any]:
    """Concurrency 64 for `seconds`, RSS of the process tree every 10 s."""
    script = wrk_script(server, models, work)
    samples: list[tuple[float, float]] = []
    with running(server, work) as handle:
        run_wrk(handle.url, script, 64, 5)
        began = time.monotonic()
        with start_wrk(handle.url, script, 64, seconds) as load:
            while load.poll() is None:
                samples.append((round(time.monotonic() - began), tree_rss_mb(handle.process.pid)))
                time.sleep(min(RSS_INTERVAL_S, max(0.1, began + seconds - time.monotonic())))
            stdout, stderr = load.communicate()
        alive = handle.process.poll() is None
    result = wrk_result(stdout + stderr)
    settled = [rss for at, rss in samples if at >= SOAK_SETTLE_S] or [rss for _, rss in samples]
    result.update(
        seconds=seconds,
        server_alive_at_end=alive,
        rss_growth_pct=round(100.0 * (settled[-1] - settled[0]) / settled[0], 2),
        rss_mb_samples=samples,
    )
    return result


# --- report ---------------------------------------------------------------------------------


def summarize(results: Results) -> dict[str, dict[str, Any]]:
    cells: dict[str, dict[str, Any]] = {}
    for name, by_concurrency in results.trials.items():
        for connections, trials in by_concurrency.items():
            cells.setdefault(name, {})[str(connections)] = {
                "median": {
                    key: round(statistics.median(t[key] for t in trials), 3)
                    for key in ("requests_per_s", "p50_ms", "p90_ms", "p99_ms")
                },
                "error_count": sum(t["error_count"] for t in trials),
                "trials": trials,
            }
    return cells


def median_of(cells: dict[str, dict[str, Any]], name: str, connections: int, key: str) -> float:
    value: float = cells[name][str(connections)]["median"][key]
    return value


def compare(cells: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not {MODELYARD, MINIMAL, MLFLOW} <= cells.keys():
        ratios: dict[str, Any] = {}
        if {MINIMAL, MLFLOW} <= cells.keys():
            ratios["minimal_over_mlflow_rps"] = _ratios(cells, MINIMAL, MLFLOW)
        return ratios
    return {
        "modelyard_over_minimal_rps": _ratios(cells, MODELYARD, MINIMAL),
        "modelyard_over_minimal_p99_at_64": round(
            median_of(cells, MODELYARD, 64, "p99_ms") / median_of(cells, MINIMAL, 64, "p99_ms"), 3
        ),
        "modelyard_over_mlflow_rps": _ratios(cells, MODELYARD, MLFLOW),
        "minimal_over_mlflow_rps": _ratios(cells, MINIMAL, MLFLOW),
    }


def _ratios(cells: dict[str, dict[str, Any]], top: str, bottom: str) -> dict[str, float]:
    return {
        str(c): round(
            median_of(cells, top, c, "requests_per_s")
            / median_of(cells, bottom, c, "requests_per_s"),
            3,
        )
        for c in CONCURRENCIES
    }


def verdicts(
    ratios: dict[str, Any],
    cells: dict[str, dict[str, Any]],
    prediction_checks: dict[str, dict[str, Any]],
    soaked: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def add(name: str, target: str, value: Any, passed: bool | None) -> None:
        verdict = "n/a" if passed is None else ("PASS" if passed else "FAIL")
        checks.append({"check": name, "target": target, "value": value, "verdict": verdict})

    over_minimal = ratios.get("modelyard_over_minimal_rps", {})
    over_mlflow = ratios.get("modelyard_over_mlflow_rps", {})
    p99 = ratios.get("modelyard_over_minimal_p99_at_64")
    for c in CONCURRENCIES:
        value = over_minimal.get(str(c))
        passed = None if value is None else value >= TARGET_THROUGHPUT
        add(f"modelyard / minimal req/s, c={c}", f">= {TARGET_THROUGHPUT}", value, passed)
    add(
        "modelyard / minimal p99, c=64",
        f"<= {TARGET_P99}",
        p99,
        None if p99 is None else p99 <= TARGET_P99,
    )
    for c in CONCURRENCIES:
        value = over_mlflow.get(str(c))
        passed = None if value is None else value >= TARGET_OVER_MLFLOW
        add(f"modelyard / mlflow req/s, c={c}", f">= {TARGET_OVER_MLFLOW:g}", value, passed)
    for name, check in prediction_checks.items():
        add(f"{name} predicts as scikit-learn (100 rows)", "same classes", check["ok"], check["ok"])
    for name, by_concurrency in cells.items():
        errors = sum(cell["error_count"] for cell in by_concurrency.values())
        add(f"{name}: request errors in timed trials", "0", errors, errors == 0)
    if soaked is None:
        add("soak: errors", "0", None, None)
        add("soak: RSS growth %", f"< {TARGET_SOAK_GROWTH_PCT:g}", None, None)
    else:
        add("soak: errors", "0", soaked["error_count"], soaked["error_count"] == 0)
        growth = soaked["rss_growth_pct"]
        add(
            "soak: RSS growth %",
            f"< {TARGET_SOAK_GROWTH_PCT:g}",
            growth,
            growth < TARGET_SOAK_GROWTH_PCT,
        )
    return checks


def print_report(payload: dict[str, Any]) -> None:
    print()
    header = f"{'server':<10} {'c':>3} {'req/s':>9}  {'(trials)':<26} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{header}  errors")
    for name, by_concurrency in payload["cells"].items():
        for connections, cell in by_concurrency.items():
            median = cell["median"]
            trials = "(" + ", ".join(f"{t['requests_per_s']:,.0f}" for t in cell["trials"]) + ")"
            print(
                f"{name:<10} {connections:>3} {median['requests_per_s']:>9,.1f}  {trials:<26}"
                f" {median['p50_ms']:>8.2f} {median['p99_ms']:>8.2f}  {cell['error_count']}"
            )
    for name, server in payload["servers"].items():
        if not server["available"]:
            print(f"{name}: not available ({server['reason']})")
    if payload["soak"]:
        soaked = payload["soak"]
        print(
            f"soak {soaked['seconds']:g} s at c=64: {soaked['requests_per_s']:,.1f} req/s,"
            f" p99 {soaked['p99_ms']:.2f} ms, {soaked['error_count']} errors,"
            f" RSS {soaked['rss_mb_samples'][0][1]} -> {soaked['rss_mb_samples'][-1][1]} MB"
            f" ({soaked['rss_growth_pct']:+.2f} % after {SOAK_SETTLE_S:g} s)"
        )
    print()
    for check in payload["checks"]:
        print(
            f"{check['verdict']:<5} {check['check']}: {check['value']} (target {check['target']})"
        )


def source_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True)
        return done.stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (
        "+dirty" if git("status", "--porcelain", "--", "src") else ""
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s runs, 1 repetition")
    parser.add_argument("--duration", type=float, help="seconds per measured run (20)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per run (5)")
    parser.add_argument("--repeat", type=int, help="repetitions per cell (3)")
    parser.add_argument("--workers", type=int, default=1, help="server workers (1)")
    parser.add_argument("--soak", type=float, default=0, help="soak seconds at c=64 (0: none)")
    parser.add_argument(
        "--mlflow-venv", type=Path, default=Path(tempfile.gettempdir()) / "modelyard-bench-mlflow"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    quick = args.quick
    args.duration = args.duration or (2.0 if quick else 20.0)
    args.warmup = args.warmup or (1.0 if quick else 5.0)
    args.repeat = args.repeat or (1 if quick else 3)
    return args


def results_name(args: argparse.Namespace) -> str:
    name = "serving_quick" if args.quick else "serving"
    return name if args.workers == 1 else f"{name}_workers{args.workers}"


def main() -> None:
    args = parse_args()
    ensure_wrk()
    ensure_mlflow(args.mlflow_venv)
    installed_starlette = ensure_starlette()
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-serving-"))
    run = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": source_revision(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "versions": versions(args.mlflow_venv),
        "installed_starlette": installed_starlette,
    }
    try:
        models = train(work, args.mlflow_venv)
        registered = register_in_modelyard(work / "home", models)
        servers = build_servers(models, args, work / "home")
        results = measure_all(servers, models, args, work)
        modelyard = next(s for s in servers if s.name == MODELYARD)
        soaked = (
            soak(modelyard, models, args.soak, work) if args.soak and modelyard.available else None
        )
        run["load_average_at_end"] = os.getloadavg()
        cells = summarize(results)
        ratios = compare(cells)
        payload = {
            "run": run,
            "config": {
                "model": "RandomForestClassifier(n_estimators=100, random_state=0), "
                "make_classification(n_samples=2000, n_features=20, random_state=0)",
                "concurrencies": CONCURRENCIES,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "repeat": args.repeat,
                "workers": args.workers,
                "wrk": f"1 thread, --timeout {WRK_TIMEOUT}, one row per POST",
                "mlflow_pyfunc_predict_fn": "predict_proba",
                "modelyard_registration": registered,
            },
            "servers": {
                s.name: {"available": s.available, "reason": s.reason, "command": s.command}
                for s in servers
            },
            "prediction_checks": results.checks,
            "starts": results.starts,
            "cells": cells,
            "ratios": ratios,
            "soak": soaked,
            "checks": verdicts(ratios, cells, results.checks, soaked),
        }
        print_report(payload)
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{results_name(args)}.json"
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"wrote {path.relative_to(REPOSITORY)}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
