"""Part 3 of the feature store's benchmark: a point-in-time training set of entity rows x 40
features from raw events, against Feast's `get_historical_features` (file offline store).

    .venv/bin/python benchmarks/features_offline.py --quick   # 100k entity rows, 1M events, ~2 min
    .venv/bin/python benchmarks/features_offline.py           # 1M entity rows, 1M and 10M events

What each side gets, on the same generated data (100,000 users over 30 days):
- modelyard: the raw event log (day-partitioned Parquet, as features/offline.py writes it)
  and a view of 40 features (count, sum, mean, min, max, last over 1h, 1d, 7d, 30d and
  lifetime); its offline engine (features/engine.py) aggregates the raw events itself;
- Feast: it cannot aggregate raw events, so it gets the aggregated table (one row of 40
  float features per user every 3 days: what a batch pipeline would have produced) in a
  Parquet file source, and joins it point in time (`get_historical_features`, file offline
  store) in its own virtualenv outside the repository (--feast-venv, created on first use);
- the limit: DuckDB's `ASOF LEFT JOIN` of the entity rows with that same aggregated table
  (the join alone, with nothing to aggregate).
- the engines compared for the choice (features/engine.py's docstring): DuckDB's window
  aggregates against a pyarrow + Python fold of the same log (offline.values_at, the
  reference), on a slice of the entity rows (the fold is far too slow for all of them).

Each measurement runs in a fresh process; seconds are wall time, peak RSS the process's
maximum resident set (`ru_maxrss`), medians over --repeat runs. The machine is shared: the
load average is recorded next to every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY / "src"))
RESULTS = REPOSITORY / "benchmarks" / "results"
USERS = 100_000
DAYS = 30
START_US = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp()) * 1_000_000
SPAN_US = DAYS * 86_400 * 1_000_000
SNAPSHOT_HOURS = 72  # 10 rows per user: 1M rows, as in the orientation figures
WINDOWS = {"1h": 3600, "1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": None}
AGGREGATIONS = ("count", "sum", "mean", "min", "max", "last", "sum", "max")
SCHEMA = {"event_id": "int", "user_id": "int", "amount": "float", "ts": "timestamp"}


def features() -> list[tuple[str, str, str, int | None]]:
    """40 features: 8 aggregations x 5 windows (the second sum and max on `quantity`)."""
    found = []
    for window_name, seconds in WINDOWS.items():
        for number, aggregation in enumerate(AGGREGATIONS):
            column = "" if aggregation == "count" else ("quantity" if number > 5 else "amount")
            found.append(
                (f"{aggregation}_{column or 'events'}_{window_name}", aggregation, column, seconds)
            )
    return found


# --- data ---------------------------------------------------------------------------------


def write_events(folder: Path, count: int, seed: int = 1) -> int:
    """`count` raw events as the log writes them: one folder per day, a few files each."""
    generator = np.random.default_rng(seed)
    chunk = 1_000_000
    written = 0
    for first in range(0, count, chunk):
        size = min(chunk, count - first)
        times = START_US + generator.integers(0, SPAN_US, size)
        table = pa.table(
            {
                "event_id": pa.array(np.arange(first, first + size), pa.int64()),
                "user_id": pa.array(generator.integers(0, USERS, size), pa.int64()),
                "amount": pa.array(np.round(generator.gamma(2.0, 20.0, size), 2), pa.float64()),
                "quantity": pa.array(generator.integers(1, 10, size).astype(np.float64)),
                "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            }
        )
        days = (times - START_US) // (86_400 * 1_000_000)
        for day in range(DAYS):
            part = table.filter(pa.array(days == day))
            target = folder / f"date=day{day:02d}" / f"part-{first // chunk:04d}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, target)
            written += part.num_rows
    return written


def write_entities(path: Path, rows: int, seed: int = 2) -> None:
    generator = np.random.default_rng(seed)
    times = START_US + generator.integers(0, SPAN_US, rows)
    pq.write_table(
        pa.table(
            {
                "user_id": pa.array(generator.integers(0, USERS, rows), pa.int64()),
                "event_timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
                "label": pa.array(generator.integers(0, 2, rows), pa.int64()),
            }
        ),
        path,
    )


def write_aggregated(path: Path, seed: int = 3) -> int:
    """Feast's input: 40 float features per user every SNAPSHOT_HOURS hours."""
    generator = np.random.default_rng(seed)
    per_user = DAYS * 24 // SNAPSHOT_HOURS
    users = np.repeat(np.arange(USERS), per_user)
    offsets = np.tile(np.arange(per_user) * SNAPSHOT_HOURS * 3600 * 1_000_000, USERS)
    times = START_US + offsets + generator.integers(0, 3600 * 1_000_000, users.size)
    columns: dict[str, Any] = {
        "user_id": pa.array(users, pa.int64()),
        "event_timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
    }
    for name, *_ in features():
        columns[name] = pa.array(generator.random(users.size) * 100, pa.float64())
    pq.write_table(pa.table(columns), path, row_group_size=200_000)
    return users.size


# --- the measured runs (each in its own process) --------------------------------------------


def run_modelyard(events: Path, entities: Path, output: Path) -> dict[str, Any]:
    from modelyard.features import engine
    from modelyard.features.aggregations import Feature, ViewDefinition

    definition = ViewDefinition(
        ("user_id",), "ts", tuple(Feature(n, a, c, w) for n, a, c, w in features())
    )
    files = sorted(events.rglob("*.parquet"))
    schema = {**SCHEMA, "quantity": "float"}
    view = engine.LogView(definition, files, schema, "activity__", [f[0] for f in features()])
    with engine.connect() as connection:
        source = f"read_parquet({engine.quote_path(entities)})"
        query = engine.training_query(connection, source, "event_timestamp", [view])
        connection.execute(f"COPY ({query}) TO {engine.quote_path(output)} (FORMAT parquet)")
    return {"rows": pq.ParquetFile(output).metadata.num_rows}


def run_fold(events: Path, entities: Path, rows: int) -> dict[str, Any]:
    """The pyarrow + Python engine: read the log with pyarrow, fold per row in Python."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")
    os.environ.setdefault("MODELYARD_HOME", tempfile.mkdtemp(prefix="modelyard-bench-fold-"))
    import django

    django.setup()  # offline.py's module imports the models; no database is used
    from modelyard.features.aggregations import Feature, ViewDefinition
    from modelyard.features.offline import index_events, values_at

    definition = ViewDefinition(
        ("user_id",), "ts", tuple(Feature(n, a, c, w) for n, a, c, w in features())
    )
    table = pq.read_table(events)
    table = table.set_column(4, "ts", table.column("ts").cast(pa.int64()))
    index = index_events(definition, table.to_pylist())
    wanted = pq.read_table(entities).slice(0, rows).to_pylist()
    for row in wanted:
        moment = int(row["event_timestamp"].timestamp() * 1_000_000)
        values_at(definition, index.get(f"[{row['user_id']}]"), moment)
    return {"rows": len(wanted)}


def run_modelyard_slice(events: Path, entities: Path, rows: int, output: Path) -> dict[str, Any]:
    sliced = output.with_suffix(".entities.parquet")
    pq.write_table(pq.read_table(entities).slice(0, rows), sliced)
    return run_modelyard(events, sliced, output)


def run_limit(aggregated: Path, entities: Path, output: Path) -> dict[str, Any]:
    import duckdb

    connection = duckdb.connect(config={"threads": 2, "memory_limit": "2GB"})
    connection.execute(
        f"COPY (SELECT e.*, a.* EXCLUDE (user_id, event_timestamp) FROM "
        f"read_parquet('{entities}') e ASOF LEFT JOIN read_parquet('{aggregated}') a "
        "ON e.user_id = a.user_id AND e.event_timestamp >= a.event_timestamp) "
        f"TO '{output}' (FORMAT parquet)"
    )
    return {"rows": pq.ParquetFile(output).metadata.num_rows}


FEAST_RUN = r"""
import json, sys, time
from datetime import timedelta
import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.types import Float64

aggregated, entities, names, repo = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
source = FileSource(path=aggregated, timestamp_field="event_timestamp")
view = FeatureView(name="activity", entities=[user], ttl=timedelta(days=60),
                   schema=[Field(name=n, dtype=Float64) for n in names], source=source,
                   online=False)
store = FeatureStore(config=RepoConfig(project="bench", registry=repo + "/registry.db",
                     provider="local", offline_store={"type": "file"},
                     entity_key_serialization_version=3, repo_path=repo))
store.apply([user, view])
entity_df = pd.read_parquet(entities)
frame = store.get_historical_features(entity_df=entity_df,
                                      features=[f"activity:{n}" for n in names]).to_df()
frame.to_parquet(sys.argv[5])
print(json.dumps({"rows": len(frame)}))
"""


def run_feast(
    venv: Path, aggregated: Path, entities: Path, output: Path, work: Path
) -> dict[str, Any]:
    names = json.dumps([f[0] for f in features()])
    repo = work / "feast_repo"
    repo.mkdir(exist_ok=True)
    argv = [
        str(venv / "bin" / "python"),
        "-c",
        FEAST_RUN,
        str(aggregated),
        str(entities),
        names,
        str(repo),
        str(output),
    ]
    completed = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measured(argv: list[str]) -> dict[str, Any]:
    """Run this script's `--run` in a fresh process: its answer, wall seconds, peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--run", *argv], stdout=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    output = process.stdout.read() if process.stdout else ""
    if status != 0:
        raise SystemExit(f"{argv[0]} failed ({status}): {output}")
    answer = json.loads(output.strip().splitlines()[-1])
    return {
        **answer,
        "seconds": seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "load": os.getloadavg()[0],
    }


def ensure_feast(venv: Path) -> None:
    if (venv / "bin" / "feast").exists():
        return
    print(f"creating {venv} with the latest feast (a few minutes)")
    base_python = getattr(sys, "_base_executable", sys.executable)  # not this venv's
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "feast"], check=True)


def child(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "modelyard":
        answer = run_modelyard(Path(rest[0]), Path(rest[1]), Path(rest[2]))
    elif kind == "modelyard-slice":
        answer = run_modelyard_slice(Path(rest[0]), Path(rest[1]), int(rest[2]), Path(rest[3]))
    elif kind == "fold":
        answer = run_fold(Path(rest[0]), Path(rest[1]), int(rest[2]))
    elif kind == "limit":
        answer = run_limit(Path(rest[0]), Path(rest[1]), Path(rest[2]))
    elif kind == "feast":
        answer = run_feast(
            Path(rest[0]), Path(rest[1]), Path(rest[2]), Path(rest[3]), Path(rest[4])
        )
    else:
        raise SystemExit(f"unknown run {kind}")
    print(json.dumps(answer))


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "rows": runs[0]["rows"],
        "load": [round(r["load"], 2) for r in runs],
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100k entity rows, 1M events")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--feast-venv",
        type=Path,
        default=Path("/tmp/modelyard-bench-feast-offline"),  # noqa: S108 - outside the repository
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="keep the data here (reused if present)"
    )
    parser.add_argument("--run", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child(args.run)
        return
    ensure_feast(args.feast_venv)
    entity_rows = 100_000 if args.quick else 1_000_000
    event_counts = [1_000_000] if args.quick else [1_000_000, 10_000_000]
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-features-offline-") as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        results = measure(args, work, entity_rows, event_counts, repeat)
    print_results(results)
    RESULTS.mkdir(exist_ok=True)
    name = "features_offline_quick.json" if args.quick else "features_offline.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {RESULTS / name}")


def measure(
    args: argparse.Namespace, work: Path, entity_rows: int, event_counts: list[int], repeat: int
) -> dict[str, Any]:
    entities = work / f"entities_{entity_rows}.parquet"
    if not entities.exists():
        write_entities(entities, entity_rows)
    aggregated = work / "aggregated.parquet"
    if not aggregated.exists():
        write_aggregated(aggregated)
    results: dict[str, Any] = {
        "entity_rows": entity_rows,
        "features": len(features()),
        "users": USERS,
        "aggregated_rows": pq.ParquetFile(aggregated).metadata.num_rows,
        "cpus": os.cpu_count(),
        "modelyard": {},
    }
    for count in event_counts:
        log = work / f"events_{count}"
        if not log.exists():
            print(f"writing {count:,} raw events")
            write_events(log, count)
        print(f"modelyard engine, {count:,} events")
        output = work / "modelyard.parquet"
        results["modelyard"][str(count)] = median(
            [measured(["modelyard", str(log), str(entities), str(output)]) for _ in range(repeat)]
        )
    print("limit: DuckDB ASOF LEFT JOIN over the aggregated table")
    results["limit"] = median(
        [
            measured(["limit", str(aggregated), str(entities), str(work / "limit.parquet")])
            for _ in range(repeat)
        ]
    )
    print("Feast get_historical_features")
    results["feast"] = median(
        [
            measured(
                [
                    "feast",
                    str(args.feast_venv),
                    str(aggregated),
                    str(entities),
                    str(work / "feast.parquet"),
                    str(work),
                ]
            )
            for _ in range(repeat)
        ]
    )
    results["feast"]["rows_with_features"] = _rows_with_features(work / "feast.parquet")
    results["limit"]["rows_with_features"] = _rows_with_features(work / "limit.parquet")
    slice_rows = 2_000
    log = work / f"events_{event_counts[0]}"
    print(
        f"engines on {slice_rows:,} entity rows over {event_counts[0]:,} events: "
        "DuckDB and the pyarrow fold"
    )
    results["engine_choice"] = {
        "entity_rows": slice_rows,
        "events": event_counts[0],
        "duckdb": measured(
            [
                "modelyard-slice",
                str(log),
                str(entities),
                str(slice_rows),
                str(work / "slice.parquet"),
            ]
        ),
        "pyarrow_fold": measured(["fold", str(log), str(entities), str(slice_rows)]),
    }
    return results


def _rows_with_features(path: Path) -> int:
    table = pq.read_table(path)
    column = next(name for name in table.column_names if name.startswith("sum_amount_1d"))
    return table.num_rows - table.column(column).null_count


def _figures(figures: dict[str, Any]) -> str:
    return f"{figures['seconds']:6.1f} s {figures['peak_rss_mb']:6.0f} MB (load {figures['load']})"


def print_results(results: dict[str, Any]) -> None:
    feast, limit = results["feast"], results["limit"]
    rows, users = results["entity_rows"], results["users"]
    print(f"\n{rows:,} entity rows x {results['features']} features, {users:,} users")
    for count, figures in results["modelyard"].items():
        ratio = feast["seconds"] / figures["seconds"]
        print(f"  modelyard, {int(count):>10,} raw events: {_figures(figures)}")
        print(f"    {ratio:.2f} x Feast's speed")
    print(f"  limit, ASOF over the aggregated table: {_figures(limit)}")
    print(f"  Feast get_historical_features:        {_figures(feast)}")
    print(
        f"  rows with features: Feast {feast['rows_with_features']:,}, "
        f"ASOF {limit['rows_with_features']:,} of {rows:,}"
    )
    choice = results["engine_choice"]
    print(f"  engine choice, {choice['entity_rows']:,} rows over {choice['events']:,} events:")
    print(f"    DuckDB        {_figures(choice['duckdb'])}")
    print(f"    pyarrow fold  {_figures(choice['pyarrow_fold'])}")


if __name__ == "__main__":
    main()
