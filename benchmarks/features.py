"""Feature store, online side: modelyard against Feast on the same data, in the same run.

Issue 12's benchmark, parts 1 and 2 (part 3, training sets, is `features_offline.py`):

1. Ingestion: N raw events (default 1,000,000 over 100,000 users, spread over 25 days)
   into a view of 40 windowed aggregates (count, sums, mean, min, max, last over 1h, 1d,
   7d, 30d and lifetime), by `features.services.ingest` in batches of 10,000 rows as the
   API hands them over after parsing JSON (validation, de-duplication by event id, the raw
   log in Parquet, tiles in Redis): events/s. Feast cannot aggregate raw events, so it gets
   the aggregated table (read back from modelyard's online store: 1 row x 40 features per
   user), and `feast materialize` of that table into Redis is timed for reference.
2. Online lookup of 1 entity x 40 features over HTTP, wrk at concurrency 1, 8 and 64,
   against `feast serve` (Redis online store, 2 workers, `--max-requests 0`) and the
   prediction server's feature route (`GET /v1/features/…/online`, 2 workers): req/s and
   p99 of each, and the ratios. Targets: >= 4 x Feast's req/s, <= 1/4 of its p99.

Feast lives in its own virtualenv outside the repository (`--feast-venv`, default
/tmp/modelyard-bench-feast), created here when missing. Redis databases 16 (modelyard)
and 17 (Feast) are flushed at start; PostgreSQL gets a throwaway database.

    .venv/bin/python benchmarks/features.py --quick   # 100,000 events, 10,000 users, short runs
    .venv/bin/python benchmarks/features.py           # 1,000,000 events, 100,000 users
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

import common
from serving import ensure_wrk, run_wrk

DATABASE = "modelyard_bench_features"
OURS_REDIS = os.environ.get("MODELYARD_BENCH_FEATURES_REDIS", "redis://127.0.0.1:6379/16")
FEAST_REDIS_DB = int(os.environ.get("MODELYARD_BENCH_FEAST_REDIS_DB", "17"))
CONCURRENCIES = (1, 8, 64)
BATCH = 10_000
WINDOWS = {"1h": "1h", "1d": "1d", "7d": "7d", "30d": "30d", "life": None}
AGGREGATES = {
    "n": ("count", ""),
    "spend": ("sum", "amount"),
    "avg": ("mean", "amount"),
    "low": ("min", "amount"),
    "high": ("max", "amount"),
    "items": ("sum", "items"),
    "most_items": ("max", "items"),
    "last_amount": ("last", "amount"),
}
FEATURES = [f"{name}_{window}" for window in WINDOWS for name in AGGREGATES]  # 40
TARGET_THROUGHPUT, TARGET_P99 = 4.0, 0.25
JSON = {"Content-Type": "application/json"}  # FastAPI (feast serve) needs it
FEAST_VENV = Path("/tmp/modelyard-bench-feast")  # noqa: S108 - outside the repository, on purpose


def project_text() -> str:
    lines = [
        "project: bench",
        "team: bench",
        "features:",
        "  entities:",
        "    user: [user_id]",
        "  sources:",
        "    events:",
        "      entity: user",
        "      event_time: ts",
        "      lateness: 30d",
        "      schema: {event_id: string, user_id: int, amount: float, items: int, ts: timestamp}",
        "  views:",
        "    activity:",
        "      source: events",
        "      features:",
    ]
    for window_name, window in WINDOWS.items():
        for name, (aggregation, column) in AGGREGATES.items():
            parts = [f"agg: {aggregation}"] + ([f"column: {column}"] if column else [])
            parts += [f"window: {window}"] if window else []
            lines.append(f"        {name}_{window_name}: {{{', '.join(parts)}}}")
    return "\n".join(lines) + "\n"


def events(count: int, users: int, now: datetime, seed: int = 1) -> Iterator[list[dict[str, Any]]]:
    generator = random.Random(seed)
    span = 25 * 86400
    for first in range(0, count, BATCH):
        yield [
            {
                "event_id": f"e{n}",
                "user_id": generator.randrange(users),
                "amount": round(generator.uniform(0, 200), 2),
                "items": generator.randrange(1, 6),
                "ts": (now - timedelta(seconds=generator.uniform(60, span))).isoformat(),
            }
            for n in range(first, min(first + BATCH, count))
        ]


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


# --- part 1: ingestion ----------------------------------------------------------------------


def ingest(count: int, users: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from modelyard.accounts.models import Membership, Team
    from modelyard.features import services
    from modelyard.features.models import Source
    from modelyard.jobs import projects

    user = get_user_model().objects.create_user("bench", "bench@example.com", "x")
    team = Team.objects.create(name="bench")
    Membership.objects.create(user=user, team=team, role="owner")
    projects.apply(user, project_text())
    source = Source.objects.get(team=team, name="events")
    now = datetime.now(UTC)
    seconds = 0.0
    load_before = load()
    for batch in events(count, users, now):
        started = time.perf_counter()
        services.ingest(user, source, batch)
        seconds += time.perf_counter() - started
    rate = count / seconds
    print(
        f"ingestion: {count:,} events in {seconds:.1f} s = {rate:,.0f} events/s "
        f"(load {load_before})"
    )
    return {
        "events": count,
        "users": users,
        "seconds": round(seconds, 2),
        "events_per_s": round(rate),
        "load": load_before,
    }


def aggregated_table(users: int, path: Path) -> dict[str, Any]:
    """Every user's 40 features read back from the online store: Feast's input."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelyard.features import online
    from modelyard.features.models import View

    view = View.objects.get(name="activity")
    started = time.perf_counter()
    columns: dict[str, list[Any]] = {name: [] for name in FEATURES}
    for first in range(0, users, 1000):
        for values in online.read(
            view, [[user] for user in range(first, min(first + 1000, users))]
        ):
            for name in FEATURES:
                value = values[name]
                columns[name].append(None if value is None else float(value))
    seconds = time.perf_counter() - started
    stamp = datetime.now(UTC).replace(microsecond=0)
    table = pa.table(
        {
            "user_id": pa.array(range(users), pa.int64()),
            "event_timestamp": pa.array([stamp] * users, pa.timestamp("us", tz="UTC")),
            **{name: pa.array(values, pa.float64()) for name, values in columns.items()},
        }
    )
    pq.write_table(table, path)
    print(f"read back {users:,} users x 40 features from the online store in {seconds:.1f} s")
    return {"read_back_s": round(seconds, 2), "stamp": stamp}


# --- Feast ----------------------------------------------------------------------------------


def ensure_feast(venv: Path) -> None:
    if (venv / "bin" / "feast").exists():
        return
    print(f"creating {venv} with feast[redis] (a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "feast[redis]"], check=True)


FEAST_REPO = """\
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64

user = Entity(name="user", join_keys=["user_id"])
source = FileSource(path="{path}", timestamp_field="event_timestamp")
activity = FeatureView(
    name="activity",
    entities=[user],
    ttl=timedelta(days=3650),
    schema=[Field(name=name, dtype=Float64) for name in {features!r}],
    source=source,
    online=True,
)
"""
FEAST_CONFIG = """\
project: bench
registry: {repo}/registry.db
provider: local
online_store:
  type: redis
  connection_string: "127.0.0.1:6379,db={db}"
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def feast_materialize(venv: Path, repo: Path, table: Path, stamp: datetime) -> dict[str, Any]:
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(FEAST_CONFIG.format(repo=repo, db=FEAST_REDIS_DB))
    (repo / "repo.py").write_text(FEAST_REPO.format(path=table, features=FEATURES))
    feast = str(venv / "bin" / "feast")
    subprocess.run([feast, "apply"], cwd=repo, check=True, capture_output=True)
    start = (stamp - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    end = (stamp + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    load_before = load()
    started = time.perf_counter()
    subprocess.run([feast, "materialize", start, end], cwd=repo, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    print(
        f"feast materialize of the aggregated table into Redis: {seconds:.1f} s "
        f"(load {load_before})"
    )
    return {"materialize_s": round(seconds, 2), "load": load_before}


# --- part 2: online lookups -----------------------------------------------------------------

SERVE_OURS = """\
import sys
from modelyard.serving.server import ServeOptions, prepare_metrics_directory, run
prepare_metrics_directory(2)
import django
django.setup()
from django.db import connections
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
connections.close_all()
run(ServeOptions(models=[], port=int(sys.argv[1]), workers=2), App(Fleet("production", {})))
"""
WRK_GET = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def feast_body(user: int) -> str:
    import json

    features = [f"activity:{name}" for name in FEATURES]
    return json.dumps({"features": features, "entities": {"user_id": [user]}})


@contextmanager
def server(argv: list[str], cwd: Path, log: Path, probe: Any) -> Iterator[None]:
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited; see {log}:\n{log.read_text()[-2000:]}")
            try:
                if probe():
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not answer in time:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield
    finally:
        common.stop_group(process)


def online_values(ours: dict[str, Any], feast: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    mine = [ours["results"][0]["features"][name] for name in FEATURES]
    names = feast["metadata"]["feature_names"]
    by_name = {
        name: result["values"][0] for name, result in zip(names, feast["results"], strict=True)
    }
    return [None if v is None else float(v) for v in mine], [by_name.get(name) for name in FEATURES]


def lookups(args: argparse.Namespace, work: Path, repo: Path, user: int) -> dict[str, Any]:
    ensure_wrk()
    ours_port, feast_port = common.free_port(), common.free_port()
    ours_url = f"http://127.0.0.1:{ours_port}/v1/features/bench/activity/online?user_id={user}"
    feast_url = f"http://127.0.0.1:{feast_port}/get-online-features"
    (work / "serve_ours.py").write_text(SERVE_OURS)
    ours_script = work / "ours.lua"
    ours_script.write_text(WRK_GET)
    feast_script = work / "feast.lua"
    feast_script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{feast_body(user)}]==]\n" + WRK_GET
    )
    ours_argv = [sys.executable, str(work / "serve_ours.py"), str(ours_port)]
    feast_argv = [str(args.feast_venv / "bin" / "feast"), "serve", "-h", "127.0.0.1"]
    feast_argv += ["-p", str(feast_port), "-w", "2", "--max-requests", "0", "--no-access-log"]
    trials: dict[str, dict[int, list[dict[str, Any]]]] = {"modelyard": {}, "feast": {}}
    with (
        server(ours_argv, work, work / "ours.log", lambda: httpx.get(ours_url).status_code == 200),
        server(
            feast_argv,
            repo,
            work / "feast.log",
            lambda: (
                httpx.post(feast_url, content=feast_body(user), headers=JSON).status_code == 200
            ),
        ),
    ):
        mine, theirs = online_values(
            httpx.get(ours_url).json(),
            httpx.post(feast_url, content=feast_body(user), headers=JSON).json(),
        )
        same = sum(1 for a, b in zip(mine, theirs, strict=True) if a == b)
        print(f"user {user}: {same} of 40 values equal in modelyard and Feast")
        for repetition in range(args.repetitions):
            for connections in CONCURRENCIES:
                for name, url, script in (
                    ("modelyard", ours_url, ours_script),
                    ("feast", feast_url, feast_script),
                )[:: 1 if repetition % 2 == 0 else -1]:
                    run_wrk(url, script, connections, args.warmup)
                    load_before = load()
                    trial = run_wrk(url, script, connections, args.seconds)
                    trial["load"] = load_before
                    trials[name].setdefault(connections, []).append(trial)
                    print(
                        f"  {name:9} c={connections:<3} {trial['requests_per_s']:>8,.0f} req/s  "
                        f"p99 {trial['p99_ms']:7.2f} ms  errors {trial['error_count']}  "
                        f"(load {load_before})"
                    )
    return {"equal_values": same, "trials": trials, "summary": summarize(trials)}


def summarize(trials: dict[str, dict[int, list[dict[str, Any]]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for connections in CONCURRENCIES:
        cell = {}
        for name in trials:
            runs = trials[name][connections]
            cell[name] = {
                "requests_per_s": statistics.median(r["requests_per_s"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "errors": sum(r["error_count"] for r in runs),
            }
        ours, feast = cell["modelyard"], cell["feast"]
        cell["throughput_ratio"] = round(ours["requests_per_s"] / feast["requests_per_s"], 2)
        cell["p99_ratio"] = round(ours["p99_ms"] / feast["p99_ms"], 3)
        cell["meets_targets"] = (
            cell["throughput_ratio"] >= TARGET_THROUGHPUT and cell["p99_ratio"] <= TARGET_P99
        )
        summary[str(connections)] = cell
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print("\nonline lookup, 1 entity x 40 features (medians)")
    print(
        f"{'c':>3} {'modelyard req/s':>16} {'p99 ms':>8} {'feast req/s':>12} {'p99 ms':>8} "
        f"{'x req/s':>8} {'x p99':>7}"
    )
    for connections, cell in summary.items():
        ours, feast = cell["modelyard"], cell["feast"]
        print(
            f"{connections:>3} {ours['requests_per_s']:>16,.0f} {ours['p99_ms']:>8.2f} "
            f"{feast['requests_per_s']:>12,.0f} {feast['p99_ms']:>8.2f} "
            f"{cell['throughput_ratio']:>8.2f} {cell['p99_ratio']:>7.3f}"
            + ("" if cell["meets_targets"] else "  (target missed)")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k events, 10k users, short runs")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--feast-venv", type=Path, default=FEAST_VENV)
    parser.add_argument("--keep", action="store_true", help="keep the database and home")
    args = parser.parse_args()
    if args.quick:
        args.events, args.users = 100_000, 10_000
    args.warmup, args.seconds, args.repetitions = (1, 3, 1) if args.quick else (3, 15, 3)
    ensure_feast(args.feast_venv)
    import redis

    redis.Redis.from_url(OURS_REDIS).flushdb()
    redis.Redis(db=FEAST_REDIS_DB).flushdb()
    home = common.start_django(DATABASE, OURS_REDIS)
    work = home / "work"
    work.mkdir()
    try:
        results: dict[str, Any] = {"run": common.run_stamp(), "uptime": _uptime()}
        results["ingestion"] = ingest(args.events, args.users)
        table = work / "aggregated.parquet"
        results["read_back"] = aggregated_table(args.users, table)
        results["feast_materialize"] = feast_materialize(
            args.feast_venv, work / "feast", table, results["read_back"]["stamp"]
        )
        results["online"] = lookups(args, work, work / "feast", user=args.users // 2)
        print_summary(results["online"]["summary"])
        results["uptime_after"] = _uptime()
        print(f"uptime: {results['uptime']} -> {results['uptime_after']}")
        common.write_results("features_quick" if args.quick else "features", results)
    finally:
        common.finish(DATABASE, home, args.keep)
        redis.Redis.from_url(OURS_REDIS).flushdb()
        redis.Redis(db=FEAST_REDIS_DB).flushdb()


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
