"""What monitoring costs, in one run: the prediction log on a served model, and drift
evaluation against Evidently.

1. **The prediction log's cost.** benchmarks/serving.py's model (a logistic regression over
   20 features, served as ONNX) in a throwaway embedded modelyard, called through the real
   serving app (`serving.app.App`) in one event loop, one row per request, in alternating
   blocks with the log off and on (100 % sampling, its writer thread writing Parquet and
   summaries every second). Req/s and p99 per block; the medians of the blocks are compared
   (targets: on >= 0.95x off's req/s, p99 <= 1.1x). In-process, so the figure is the log's
   own cost without the HTTP server's (this replaces benchmarks/prediction_log_cost.py).
2. **Drift evaluation.** 1M logged predictions x 20 features (5 shifted by one standard
   deviation) against a 100k-row reference. modelyard: profile the reference (percentile
   bins), count the live rows into them in batches of 10,000 as the log's writer does
   (columns.add_counts), then evaluate PSI + KS per feature from the counts. The peer:
   Evidently's `DataDriftPreset()` (its default method per column) and
   `DataDriftPreset(method="psi")`, on the same data, in its own virtualenv outside the
   repository (created here, with `pandas<3`). Checked in the run: the same 5 columns
   flagged by all three, and our PSI equal to a plain numpy PSI on the reference deciles.

    .venv/bin/python benchmarks/monitoring.py --quick   # smaller blocks, 1 repetition
    .venv/bin/python benchmarks/monitoring.py           # 3 repetitions of each

Prints the figures and writes benchmarks/results/monitoring-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from common import percentile, run_stamp, write_results

FEATURES = 20
SHIFTED = 5
REFERENCE_ROWS = 100_000
LIVE_ROWS = 1_000_000
BATCH = 10_000
PSI_THRESHOLD = 0.2
P_VALUE = 0.01

EVIDENTLY_PROGRAM = r"""
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

reference = pd.read_parquet(sys.argv[1])
current = pd.read_parquet(sys.argv[2])
method = sys.argv[3] or None
P_VALUE_METHODS = {"ks", "chisquare", "z", "fisher_exact", "t_test", "anderson", "mannw",
                   "cramer_von_mises", "epps_singleton", "g_test", "empirical_mmd"}
started = time.perf_counter()
snapshot = Report([DataDriftPreset(method=method)]).run(current, reference)
result = snapshot.dict()
seconds = time.perf_counter() - started
flagged, methods = [], set()
for metric in result["metrics"]:
    config = metric["config"]
    if not config["type"].endswith("ValueDrift"):
        continue
    name = metric["metric_name"]
    chosen = config.get("method") or name
    methods.add(str(chosen))
    value, threshold = float(metric["value"]), float(config["threshold"])
    p_value = any(m in str(chosen).lower() for m in P_VALUE_METHODS) or "p_value" in name
    if (value < threshold) if p_value else (value >= threshold):
        flagged.append(config["column"])
print(json.dumps({"seconds": seconds, "flagged": sorted(flagged), "methods": sorted(methods)}))
"""


# --- 1. the prediction log's cost --------------------------------------------------------


def setup_served() -> Any:
    os.environ["MODELYARD_HOME"] = tempfile.mkdtemp(prefix="modelyard-bench-monitoring-")
    os.environ["MODELYARD_DATABASE_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from modelyard.celery import app as celery

    celery.conf.task_always_eager = True  # the ONNX conversion runs in place
    call_command("migrate", verbosity=0)
    return register_model()


def register_model() -> Any:
    import io

    import joblib
    from sklearn.linear_model import LogisticRegression

    from modelyard.accounts.services import create_team
    from modelyard.registry import services as registry
    from modelyard.registry.models import Kind

    generator = np.random.default_rng(0)
    x = generator.normal(size=(2000, FEATURES))
    model = LogisticRegression().fit(x, (x[:, 0] + x[:, 1] > 0).astype(int))
    payload = io.BytesIO()
    joblib.dump(model, payload)
    team = create_team(None, "bench")
    asset = registry.create_asset("bench", Kind.MODEL, team, "clf")
    signature = {
        "inputs": [{"name": f"f{i}", "type": "double"} for i in range(FEATURES)],
        "outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}],
    }
    spec = registry.VersionSpec(flavor="sklearn", signature=signature, input_example=x[:2].tolist())
    source = registry.ArtifactSource("model.joblib", stream=io.BytesIO(payload.getvalue()))
    version = registry.register_version("bench", asset, spec, [source])
    registry.set_alias("bench", asset, "production", version)
    return x


async def block(app: Any, bodies: list[bytes]) -> dict[str, float]:
    """Requests one after another; req/s and the p99 of their latencies."""
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    latencies = []
    started = time.perf_counter()
    for body in bodies:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: Any = message) -> Any:
            return message

        scope = {"type": "http", "method": "POST", "path": "/v1/models/clf:predict", "headers": []}
        before = time.perf_counter()
        await app(scope, receive, send)
        latencies.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - started
    if any(m["status"] != 200 for m in sent[::2]):
        raise SystemExit("a request failed")
    return {"rps": len(bodies) / elapsed, "p99_ms": percentile(latencies, 0.99) * 1000}


def log_cost(requests: int, rounds: int) -> dict[str, Any]:
    import orjson

    x = setup_served()
    from modelyard.monitoring.log import PredictionLog
    from modelyard.serving.app import App
    from modelyard.serving.fleet import Fleet

    fleet = Fleet.from_refs(["bench/clf"], "production", 3600)
    fleet.refresh()
    recorder = PredictionLog(capacity=1_000_000, flush_seconds=1.0)
    apps = {"off": App(fleet), "on": App(fleet, recorder=recorder)}
    rows = x[np.random.default_rng(1).integers(0, len(x), requests)]
    bodies = [orjson.dumps({"instances": [row.tolist()]}) for row in rows]
    asyncio.run(block(apps["off"], bodies[:500]))  # warm-up
    blocks: dict[str, list[dict[str, float]]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            blocks[name].append(asyncio.run(block(app, bodies)))
    recorder.stop()
    written = sum(1 for _ in Path(os.environ["MODELYARD_HOME"]).rglob("*.parquet"))
    medians = {
        name: {key: statistics.median(b[key] for b in runs) for key in ("rps", "p99_ms")}
        for name, runs in blocks.items()
    }
    return {
        "requests_per_block": requests,
        "rounds": rounds,
        "blocks": blocks,
        "median": medians,
        "rps_ratio": medians["on"]["rps"] / medians["off"]["rps"],
        "p99_ratio": medians["on"]["p99_ms"] / medians["off"]["p99_ms"],
        "parquet_files_written": written,
    }


# --- 2. drift evaluation -------------------------------------------------------------------


def drift_data() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(42)
    reference = generator.normal(0.0, 1.0, (REFERENCE_ROWS, FEATURES))
    live = generator.normal(0.0, 1.0, (LIVE_ROWS, FEATURES))
    live[:, :SHIFTED] += 1.0  # the first 5 features move by one standard deviation
    return reference, live


def ours(reference: np.ndarray, live: np.ndarray) -> dict[str, Any]:
    from modelyard.monitoring import columns

    names = [f"f{i}" for i in range(FEATURES)]
    started = time.perf_counter()
    profiled = {name: columns.profile(reference[:, i]) for i, name in enumerate(names)}
    profiled_at = time.perf_counter()
    counts: dict[str, list[int]] = {}
    for start in range(0, len(live), BATCH):  # as the log's writer adds each batch
        batch = live[start : start + BATCH]
        values = {name: batch[:, i] for i, name in enumerate(names)}
        counts, _ = columns.add_counts(counts, profiled, values)
    counted_at = time.perf_counter()
    compared = {
        name: columns.compare(profiled[name], len(reference), counts[name]) for name in names
    }
    finished = time.perf_counter()
    flagged = sorted(
        name for name, f in compared.items() if f["psi"] > PSI_THRESHOLD and f["p_value"] < P_VALUE
    )
    return {
        "seconds": finished - started,
        "profile_seconds": profiled_at - started,
        "count_seconds": counted_at - profiled_at,
        "evaluate_seconds": finished - counted_at,
        "flagged": flagged,
        "psi": {name: f["psi"] for name, f in compared.items()},
    }


def plain_psi(reference: np.ndarray, live: np.ndarray) -> float:
    """PSI over the reference's deciles, in plain numpy (bins closed on the right)."""
    edges = np.quantile(reference, np.arange(1, 10) / 10)
    expected = np.bincount(np.digitize(reference, edges, right=True), minlength=10)
    actual = np.bincount(np.digitize(live, edges, right=True), minlength=10)
    e = np.maximum(expected / len(reference), 1e-4)
    a = np.maximum(actual / len(live), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def ensure_evidently(venv: Path) -> str:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} with evidently and pandas<3 (a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "evidently", "pandas<3"], check=True)
    probe = "import evidently; print(evidently.__version__)"
    return subprocess.run([str(python), "-c", probe], capture_output=True, text=True).stdout.strip()


def evidently(venv: Path, work: Path, method: str) -> dict[str, Any]:
    argv = [str(venv / "bin" / "python"), "-c", EVIDENTLY_PROGRAM]
    argv += [str(work / "reference.parquet"), str(work / "live.parquet"), method]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"Evidently failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def write_parquet(work: Path, reference: np.ndarray, live: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name, data in (("reference", reference), ("live", live)):
        table = pa.table({f"f{i}": data[:, i] for i in range(FEATURES)})
        pq.write_table(table, work / f"{name}.parquet")


def drift(venv: Path, rounds: int) -> dict[str, Any]:
    reference, live = drift_data()
    version = ensure_evidently(venv)
    runs = [ours(reference, live) for _ in range(rounds)]
    plain = {f"f{i}": plain_psi(reference[:, i], live[:, i]) for i in range(FEATURES)}
    gaps = [abs(runs[0]["psi"][name] - value) / max(value, 1e-12) for name, value in plain.items()]
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-drift-"))
    write_parquet(work, reference, live)
    default = [evidently(venv, work, "") for _ in range(rounds)]
    psi = [evidently(venv, work, "psi") for _ in range(rounds)]
    mine = statistics.median(r["seconds"] for r in runs)
    theirs = statistics.median(r["seconds"] for r in default)
    theirs_psi = statistics.median(r["seconds"] for r in psi)
    expected = [f"f{i}" for i in range(SHIFTED)]
    return {
        "evidently": version,
        "rows": {"reference": REFERENCE_ROWS, "live": LIVE_ROWS, "features": FEATURES},
        "modelyard": runs,
        "evidently_default": default,
        "evidently_psi": psi,
        "median_seconds": {"modelyard": mine, "default": theirs, "psi": theirs_psi},
        "speedup_vs_default": theirs / mine,
        "speedup_vs_psi": theirs_psi / mine,
        "same_columns_flagged": runs[0]["flagged"]
        == default[0]["flagged"]
        == psi[0]["flagged"]
        == expected,
        "psi_largest_relative_gap_to_numpy": max(gaps),
        "plain_numpy_psi": plain,
    }


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def report(cost: dict[str, Any], found: dict[str, Any]) -> None:
    off, on = cost["median"]["off"], cost["median"]["on"]
    print(
        f"prediction log: off {off['rps']:.0f} req/s p99 {off['p99_ms']:.2f} ms; on (100 %) "
        f"{on['rps']:.0f} req/s p99 {on['p99_ms']:.2f} ms -> {cost['rps_ratio']:.3f}x req/s "
        f"(target >= 0.95), {cost['p99_ratio']:.3f}x p99 (target <= 1.1)"
    )
    seconds = found["median_seconds"]
    first = found["modelyard"][0]
    print(
        f"drift, 1M x 20 against 100k: modelyard {seconds['modelyard']:.2f} s (profile "
        f"{first['profile_seconds']:.2f}, count {first['count_seconds']:.2f}, evaluate "
        f"{first['evaluate_seconds'] * 1000:.1f} ms); Evidently {found['evidently']} default "
        f"{seconds['default']:.1f} s ({found['speedup_vs_default']:.0f}x, target >= 20), psi "
        f"{seconds['psi']:.1f} s ({found['speedup_vs_psi']:.0f}x, target >= 10)"
    )
    print(
        f"flagged: modelyard {first['flagged']}, Evidently default "
        f"{found['evidently_default'][0]['flagged']} ({found['evidently_default'][0]['methods']}),"
        f" psi {found['evidently_psi'][0]['flagged']}; same 5: {found['same_columns_flagged']}; "
        f"PSI vs plain numpy: largest relative gap {found['psi_largest_relative_gap_to_numpy']:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller blocks, one repetition")
    parser.add_argument(
        "--evidently-venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "modelyard-bench-evidently",
    )
    arguments = parser.parse_args()
    rounds = 1 if arguments.quick else 3
    before = load()
    found = drift(arguments.evidently_venv, rounds)
    cost = log_cost(2000 if arguments.quick else 5000, 3 if arguments.quick else 7)
    payload = {
        **run_stamp(),
        "quick": arguments.quick,
        "load_before": before,
        "load_after": load(),
        "log_cost": cost,
        "drift": found,
    }
    write_results("monitoring", payload)
    report(cost, found)
    print(f"load: before {before}; after {payload['load_after']}")
    if not found["same_columns_flagged"] or found["psi_largest_relative_gap_to_numpy"] > 1e-9:
        raise SystemExit("the drift results disagree: see above")


if __name__ == "__main__":
    main()
