"""One prediction server for a fleet: 1,000 small models behind `modelyard serve --all
--memory-budget-mb 512`, requests spread over all of them with a Zipf skew.

1. Registers `--models` small ONNX models (random forests on synthetic data: ~0.2 MB of file,
   ~1.6 MB in memory each, so the fleet needs about three times the budget) through
   `services.register_version`, each with a production alias, in a throwaway PostgreSQL
   database and home.
2. Starts `modelyard serve --all --memory-budget-mb BUDGET` (one worker) on a copy of src/,
   as an operator would; it loads the models that fit and leaves the rest cold.
3. Sends requests at `--concurrency` 16 over keep-alive connections (a small asyncio HTTP
   client, the same for both runs), each to a model drawn from a Zipf law (s = `--zipf`,
   ranks shuffled over the models), after a warm-up of the same kind. A request that waited
   for a cold load says so (`X-Modelyard-Cold-Load: 1`); the others are warm.
4. The limit: the same number of requests, the same client and the same server, all to one
   warm model. Fleet and limit alternate `--rounds` times; figures are medians over rounds.

Reports req/s, p50/p99 of warm and cold requests, cold loads per second (the server's
`modelyard_cold_loads_total`), the server's peak RSS (VmHWM), and the ratios to one warm
model; writes results/serving_fleet.json (`_quick` with --quick).

    .venv/bin/python benchmarks/serving_fleet.py            # 1,000 models, ~10 min
    .venv/bin/python benchmarks/serving_fleet.py --quick    # 200 models, 100 MB, ~2 min
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

DATABASE = "modelyard_bench_fleet"
FEATURES = 30
DISTINCT_MODELS = 8  # trained once each; every registered model is its own version and load
VENV_BIN = Path(sys.executable).parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--memory-budget-mb", type=float, default=512)
    parser.add_argument("--requests", type=int, default=10_000, help="per round and run")
    parser.add_argument("--warmup", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--zipf", type=float, default=1.1, help="skew s: P(rank k) ~ 1/k^s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 models, 100 MB, 1 round")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.models, args.memory_budget_mb = 200, 100
        args.requests, args.warmup, args.rounds = 4000, 1000, 1
    return args


# --- the fleet ------------------------------------------------------------------------------


def train_models() -> list[bytes]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import RandomForestClassifier

    payloads = []
    for seed in range(DISTINCT_MODELS):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(4000, FEATURES))
        y = (x[:, seed % FEATURES] + rng.normal(size=4000) > 0).astype(int)
        forest = RandomForestClassifier(n_estimators=10, max_depth=12, random_state=seed)
        forest.fit(x, y)
        onnx = convert_sklearn(
            forest,
            initial_types=[("input", FloatTensorType([None, FEATURES]))],
            options={id(forest): {"zipmap": False}},
        )
        payloads.append(onnx.SerializeToString())
    return payloads


def register_fleet(count: int, payloads: list[bytes]) -> list[str]:
    from modelyard.accounts.services import create_team
    from modelyard.registry import services
    from modelyard.registry.models import Kind

    team = create_team("benchmark", "fleet")
    create_team("benchmark", "empty")  # for the baseline: a server with nothing loaded
    signature = {
        "inputs": [{"name": f"f{i}", "type": "double"} for i in range(FEATURES)],
        "outputs": [
            {"name": "label", "type": "long", "shape": [-1]},
            {"name": "probability", "type": "double", "shape": [-1, 2]},
        ],
    }
    example = np.zeros((2, FEATURES)).tolist()
    names = []
    for index in range(count):
        name = f"model-{index:04d}"
        asset = services.create_asset("benchmark", Kind.MODEL, team, name)
        payload = payloads[index % len(payloads)]
        source = services.ArtifactSource(
            name="model.onnx", stream=io.BytesIO(payload), size=len(payload)
        )
        spec = services.VersionSpec(flavor="onnx", signature=signature, input_example=example)
        version = services.register_version("benchmark", asset, spec, [source])
        services.set_alias("benchmark", asset, "production", version)
        names.append(name)
    return names


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path


def start_server(home: Path, budget_mb: float, *extra: str) -> Server:
    port = common.free_port()
    log = home / "serve.log"
    argv = [str(VENV_BIN / "modelyard"), "serve", "--all", "--port", str(port), *extra]
    argv += ["--memory-budget-mb", str(budget_mb), "--poll-seconds", "60"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv,
            env=dict(os.environ),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log)
    started = time.monotonic()
    while not _ready(port):
        if process.poll() is not None or time.monotonic() - started > 600:
            raise SystemExit(f"the server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    print(f"server ready in {time.monotonic() - started:.1f} s")
    return server


def _ready(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def cold_loads(port: int) -> float:
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelyard_cold_loads_total{")
    )


# --- the load -------------------------------------------------------------------------------


BODY = (
    b'{"inputs":[{"name":"input","shape":[1,30],"datatype":"FP64","data":['
    + b",".join(b"0.5" for _ in range(FEATURES))
    + b"]}]}"
)


def zipf_schedule(names: list[str], count: int, skew: float, seed: int) -> list[str]:
    """`count` model names, rank k drawn with probability ~ 1/k^skew; ranks shuffled over the
    models so that popularity has nothing to do with the order they were registered in."""
    rng = np.random.default_rng(seed)
    ranked = list(rng.permutation(names))
    weights = 1.0 / np.arange(1, len(names) + 1) ** skew
    picks = rng.choice(len(names), size=count, p=weights / weights.sum())
    return [ranked[i] for i in picks]


@dataclass
class Sample:
    nanoseconds: int
    cold: bool
    status: int


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> Sample:
    head = (
        f"POST /v2/models/{name}/infer HTTP/1.1\r\nHost: bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode()
    started = time.perf_counter_ns()
    writer.write(head + BODY)
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.partition(b":")
        headers[key.strip().lower()] = value.strip()
    if b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    else:  # chunked
        while (size := int((await reader.readline()).strip(), 16)) > 0:
            await reader.readexactly(size + 2)
        await reader.readline()
    elapsed = time.perf_counter_ns() - started
    return Sample(elapsed, headers.get(b"x-modelyard-cold-load") == b"1", status)


async def _drive(port: int, schedule: list[str], concurrency: int) -> list[Sample]:
    work = iter(schedule)
    samples: list[Sample] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for name in work:
            samples.append(await _one(reader, writer, name))
        writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return samples


def drive(port: int, schedule: list[str], concurrency: int) -> tuple[list[Sample], float]:
    import uvloop

    started = time.perf_counter()
    samples = uvloop.run(_drive(port, schedule, concurrency))
    return samples, time.perf_counter() - started


def figures(samples: list[Sample], seconds: float) -> dict[str, Any]:
    def ms(group: list[Sample], fraction: float) -> float | None:
        if not group:
            return None
        return round(common.percentile([s.nanoseconds / 1e6 for s in group], fraction), 3)

    warm = [s for s in samples if not s.cold]
    cold = [s for s in samples if s.cold]
    return {
        "requests": len(samples),
        "errors": sum(1 for s in samples if s.status != 200),
        "req_per_s": round(len(samples) / seconds, 1),
        "all_p50_ms": ms(samples, 0.5),
        "all_p99_ms": ms(samples, 0.99),
        "warm_p50_ms": ms(warm, 0.5),
        "warm_p99_ms": ms(warm, 0.99),
        "cold_requests": len(cold),
        "cold_p50_ms": ms(cold, 0.5),
        "cold_p99_ms": ms(cold, 0.99),
    }


# --- the run --------------------------------------------------------------------------------


def measure(args: argparse.Namespace, server: Server, names: list[str]) -> dict[str, Any]:
    warmup = zipf_schedule(names, args.warmup, args.zipf, seed=1)
    drive(server.port, warmup, args.concurrency)
    fleet_rounds, single_rounds = [], []
    for round_index in range(args.rounds):
        schedule = zipf_schedule(names, args.requests, args.zipf, seed=100 + round_index)
        loads_before = cold_loads(server.port)
        samples, seconds = drive(server.port, schedule, args.concurrency)
        fleet = figures(samples, seconds)
        fleet["cold_loads_per_s"] = round((cold_loads(server.port) - loads_before) / seconds, 2)
        one = [schedule[0]] * args.requests  # the most requested model: warm
        single = figures(*drive(server.port, one, args.concurrency))
        fleet_rounds.append(fleet)
        single_rounds.append(single)
        print(f"round {round_index + 1}: fleet {_line(fleet)}")
        print(f"round {round_index + 1}: one   {_line(single)}")
    return {
        "fleet": _medians(fleet_rounds),
        "one_warm_model": _medians(single_rounds),
        "rounds": {"fleet": fleet_rounds, "one_warm_model": single_rounds},
    }


def _line(cell: dict[str, Any]) -> str:
    return (
        f"{cell['req_per_s']:8.1f} req/s  warm p50 {cell['warm_p50_ms']} p99 "
        f"{cell['warm_p99_ms']} ms  cold {cell['cold_requests']} (p50 {cell['cold_p50_ms']} "
        f"p99 {cell['cold_p99_ms']} ms)  errors {cell['errors']}"
    )


def _medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    keys = rounds[0].keys()
    medians = {}
    for key in keys:
        values = [r[key] for r in rounds if r[key] is not None]
        medians[key] = round(statistics.median(values), 3) if values else None
    return medians


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    fleet, one = result["fleet"], result["one_warm_model"]

    def ratio(top: Any, bottom: Any) -> float | None:
        return round(top / bottom, 2) if top and bottom else None

    return {
        "req_per_s": ratio(fleet["req_per_s"], one["req_per_s"]),
        "warm_p50": ratio(fleet["warm_p50_ms"], one["warm_p50_ms"]),
        "warm_p99": ratio(fleet["warm_p99_ms"], one["warm_p99_ms"]),
    }


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    args = parse_args()
    home = common.start_django(DATABASE)
    server = None
    try:
        print(f"uptime before: {load_average()}")
        started = time.perf_counter()
        names = register_fleet(args.models, train_models())
        print(f"registered {len(names)} models in {time.perf_counter() - started:.1f} s")
        from django.db import connections

        connections.close_all()
        empty = start_server(home, args.memory_budget_mb, "--team", "empty")
        _ready(empty.port)
        empty_mb = round(common.proc_kb(empty.process.pid, "VmRSS") / 1024, 1)
        common.stop_group(empty.process)
        server = start_server(home, args.memory_budget_mb)
        result = measure(args, server, names)
        status = _fleet_status(server.port)
        peak_mb = round(common.proc_kb(server.process.pid, "VmHWM") / 1024, 1)
        rss_mb = round(common.proc_kb(server.process.pid, "VmRSS") / 1024, 1)
        payload = {
            "run": {**common.run_stamp(), "load_after": load_average()},
            "config": {k: v for k, v in vars(args).items() if k != "keep"},
            **result,
            "ratio_fleet_to_one_warm_model": ratios(result),
            "server": {
                "peak_rss_mb": peak_mb,
                "rss_at_end_mb": rss_mb,
                "empty_server_rss_mb": empty_mb,
                "peak_over_empty_mb": round(peak_mb - empty_mb, 1),
                **status,
            },
        }
        print_report(payload)
        common.write_results("serving_fleet_quick" if args.quick else "serving_fleet", payload)
    finally:
        if server is not None:
            common.stop_group(server.process)
        common.finish(DATABASE, home, args.keep)


def _fleet_status(port: int) -> dict[str, Any]:
    import httpx

    models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=30).json()["models"]
    loaded = [m for m in models if m["version"] is not None]
    footprints = [m["footprint_mb"] for m in loaded]
    return {
        "models_served": len(models),
        "loaded_at_end": len(loaded),
        "footprint_median_mb": statistics.median(footprints) if footprints else None,
        "footprints_sum_mb": round(sum(footprints), 1),
    }


def print_report(payload: dict[str, Any]) -> None:
    fleet, one, ratio = (
        payload["fleet"],
        payload["one_warm_model"],
        payload["ratio_fleet_to_one_warm_model"],
    )
    config, server = payload["config"], payload["server"]
    print()
    print(
        f"{config['models']} models, budget {config['memory_budget_mb']} MB, "
        f"concurrency {config['concurrency']}, Zipf s={config['zipf']}, "
        f"{config['requests']} requests x {config['rounds']} round(s) (medians)"
    )
    print(f"  fleet:          {_line(fleet)}")
    print(f"                  cold loads/s {fleet['cold_loads_per_s']}")
    print(f"  one warm model: {_line(one)}")
    print(
        f"  ratio fleet/one: req/s {ratio['req_per_s']}  warm p50 {ratio['warm_p50']}  "
        f"warm p99 {ratio['warm_p99']}"
    )
    print(
        f"  server: peak RSS {server['peak_rss_mb']} MB, {server['loaded_at_end']} of "
        f"{server['models_served']} loaded at the end (footprints {server['footprints_sum_mb']} MB)"
    )
    print(
        f"          an empty server's RSS {server['empty_server_rss_mb']} MB: the models took "
        f"at most {server['peak_over_empty_mb']} MB for a {config['memory_budget_mb']} MB budget"
    )
    print(f"  load: {payload['run']['load_after']}")


if __name__ == "__main__":
    main()
