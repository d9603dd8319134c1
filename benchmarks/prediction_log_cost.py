"""What the prediction log costs a request: the same in-process requests with and without it.

A throwaway embedded modelyard (temp MODELYARD_HOME, SQLite) with one scikit-learn model
(logistic regression, 20 features, served as ONNX) behind `production`; the real serving
app (`serving.app.App`) is called directly in one event loop, one row per request on the
JSON route, in alternating blocks with the log off (no recorder) and on (100 % sampling,
its writer thread flushing every second). Prints microseconds per request for each and the
difference. No HTTP, so the figure is the hook's own cost, not a server's throughput
(`benchmarks/monitoring.py` against `benchmarks/serving.py` is the issue's full measure).

    .venv/bin/python benchmarks/prediction_log_cost.py [--requests 4000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = 20


def setup() -> Any:
    os.environ["MODELYARD_HOME"] = tempfile.mkdtemp(prefix="modelyard-logcost-")
    os.environ["MODELYARD_DATABASE_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    from modelyard.celery import app as celery

    celery.conf.task_always_eager = True  # the ONNX conversion runs in place
    call_command("migrate", verbosity=0)
    return register_model()


def register_model() -> Any:
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


async def block(app: Any, bodies: list[bytes]) -> float:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    started = time.perf_counter()
    for body in bodies:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: Any = message) -> Any:
            return message

        scope = {"type": "http", "method": "POST", "path": "/v1/models/clf:predict", "headers": []}
        await app(scope, receive, send)
    elapsed = time.perf_counter() - started
    assert all(m["status"] == 200 for m in sent[::2]), "a request failed"
    return elapsed / len(bodies) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000, help="per block")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    x = setup()
    import orjson

    from modelyard.monitoring.log import PredictionLog
    from modelyard.serving.app import App
    from modelyard.serving.fleet import Fleet

    fleet = Fleet.from_refs(["bench/clf"], "production", 3600)
    fleet.refresh()
    # "hook": the request side alone (the writer never runs during a block; the buffer is
    # emptied between blocks); "writer": the same plus the thread writing every second.
    idle = PredictionLog(capacity=1_000_000, flush_seconds=3600)
    busy = PredictionLog(capacity=1_000_000, flush_seconds=1.0)
    apps = {
        "off": App(fleet),
        "hook": App(fleet, recorder=idle),
        "writer": App(fleet, recorder=busy),
    }
    rows = x[np.random.default_rng(1).integers(0, len(x), arguments.requests)]
    bodies = [orjson.dumps({"instances": [row.tolist()]}) for row in rows]
    asyncio.run(block(apps["off"], bodies[:500]))  # warm-up
    timings: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(arguments.rounds):
        for name, app in apps.items():
            timings[name].append(asyncio.run(block(app, bodies)))
            idle.buffer.clear()
    idle.stop()
    busy.stop()
    # On a shared machine other processes only ever add time: the fastest block of each
    # kind is the steadiest figure; the median is printed beside it.
    for name in apps:
        fastest, median = min(timings[name]), statistics.median(timings[name])
        print(
            f"{name:>6}: fastest block {fastest:6.1f} µs/request "
            f"({fastest / min(timings['off']):.3f}x off), median {median:6.1f} "
            f"({median / statistics.median(timings['off']):.3f}x off)"
        )


if __name__ == "__main__":
    main()
