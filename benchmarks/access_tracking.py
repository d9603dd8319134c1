"""Write-behind access tracking against the naive one-UPDATE-per-hit, in the same run.

100,000 hits over 1,000 versions (Zipf-skewed: a few hot models take most of the traffic)
go through `AccessTracker.record`, split into flush intervals with a flush after each:

- embedded: one tracker with the DatabaseSink;
- production: R replica trackers (in this process, hits dealt round-robin as a load
  balancer would) pushing to Redis, and `drain_redis_to_database` once per interval.

Database writes are counted with `connection.execute_wrapper`: UPDATE statements and the
rows they changed, against the versions hit in each interval (the target is at most one
row write per version per interval). The baseline runs `UPDATE … SET last_accessed_at =
now() WHERE id = …` per hit, autocommitted as a request would, for the first 5,000 hits.

Run: .venv/bin/python benchmarks/access_tracking.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import catalog_data
import common

DATABASE = "modelyard_bench_access"
NAIVE_SQL = "UPDATE registry_assetversion SET last_accessed_at = now() WHERE id = %s"
# The flush written by hand: one statement, two array parameters, a join instead of a CASE.
PEER_FLUSH_SQL = """
UPDATE registry_assetversion v
SET last_accessed_at = GREATEST(v.last_accessed_at, to_timestamp(hit.epoch))
FROM unnest(%s::bigint[], %s::double precision[]) AS hit(id, epoch)
WHERE v.id = hit.id
"""
ZIPF_EXPONENT = 1.1


@dataclass
class WriteCounter:
    """An execute wrapper counting UPDATE statements, the rows they changed and their time."""

    statements: int = 0
    rows: int = 0
    database_ns: int = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter_ns()
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("UPDATE"):
            self.database_ns += time.perf_counter_ns() - started
            self.statements += 1
            self.rows += context["cursor"].rowcount
        return result


def skewed_hits(version_ids: Sequence[int], count: int, seed: int = 7) -> list[int]:
    """`count` hits where the k-th most popular version gets weight 1 / k^1.1."""
    rng = random.Random(seed)
    ranked = list(version_ids)
    rng.shuffle(ranked)
    weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(ranked))]
    return rng.choices(ranked, weights=weights, k=count)


def intervals(hits: list[int], count: int) -> list[list[int]]:
    size = -(-len(hits) // count)
    return [hits[start : start + size] for start in range(0, len(hits), size)]


def record_all(tracker: Any, hits: list[int]) -> int:
    """Wall time of the `record` calls alone, in nanoseconds."""
    record = tracker.record
    started = time.perf_counter_ns()
    for version_id in hits:
        record(version_id)
    return time.perf_counter_ns() - started


def timed_ns(action: Callable[[], object]) -> int:
    started = time.perf_counter_ns()
    action()
    return time.perf_counter_ns() - started


# --- (a) embedded: DatabaseSink --------------------------------------------------------------


def run_embedded(chunks: list[list[int]]) -> dict[str, float]:
    from django.db import connection

    from modelyard.registry.access import AccessTracker, DatabaseSink

    tracker = AccessTracker(DatabaseSink(), interval=3600)
    counter, record_ns, flush_ns = WriteCounter(), 0, 0
    for chunk in chunks:
        record_ns += record_all(tracker, chunk)
        with connection.execute_wrapper(counter):
            flush_ns += timed_ns(tracker.flush)
    tracker.close()
    return _figures(chunks, record_ns, flush_ns, counter)


def _figures(
    chunks: list[list[int]], record_ns: int, flush_ns: int, counter: WriteCounter
) -> dict[str, float]:
    hits = sum(len(chunk) for chunk in chunks)
    versions_hit = sum(len(set(chunk)) for chunk in chunks)
    return {
        "record_ns_per_call": record_ns / hits,
        "record_ms_total": record_ns / 1e6,
        "flush_ms_total": flush_ns / 1e6,
        "flush_ms_per_interval": flush_ns / 1e6 / len(chunks),
        "end_to_end_ns_per_hit": (record_ns + flush_ns) / hits,
        "update_statements": counter.statements,
        "update_ms_in_database": counter.database_ns / 1e6,
        "rows_updated": counter.rows,
        "versions_hit_per_interval_summed": versions_hit,
        "writes_per_version_per_interval": counter.rows / versions_hit,
    }


# --- (b) production: replicas → Redis → drain --------------------------------------------------


def deal(chunk: list[int], replicas: int) -> list[list[int]]:
    """Round-robin, as a load balancer spreads requests over replicas."""
    return [chunk[index::replicas] for index in range(replicas)]


def run_redis(chunks: list[list[int]], replicas: int) -> dict[str, float]:
    from django.db import connection

    from modelyard.registry.access import (
        REDIS_KEY,
        AccessTracker,
        RedisSink,
        drain_redis_to_database,
    )

    RedisSink(common.REDIS_URL).client.delete(REDIS_KEY)  # nothing left from an earlier run
    trackers = [AccessTracker(RedisSink(common.REDIS_URL), 3600) for _ in range(replicas)]
    counter, record_ns, push_ns, drain_ns, direct = WriteCounter(), 0, 0, 0, 0
    for chunk in chunks:
        shares = deal(chunk, replicas)
        record_ns += sum(record_all(t, s) for t, s in zip(trackers, shares, strict=True))
        push_ns += sum(timed_ns(tracker.flush) for tracker in trackers)
        direct += sum(len(set(share)) for share in shares)
        with connection.execute_wrapper(counter):
            drain_ns += timed_ns(drain_redis_to_database)
    for tracker in trackers:
        tracker.close()
    figures = _figures(chunks, record_ns, push_ns + drain_ns, counter)
    figures.update(
        push_to_redis_ms_total=push_ns / 1e6,
        drain_ms_total=drain_ns / 1e6,
        rows_if_each_replica_wrote_directly=direct,
    )
    return figures


# --- peer: the same flushes as one hand-written statement each ---------------------------------


def run_flush_peer(chunks: list[list[int]]) -> dict[str, float]:
    """What each interval's flush costs when written by hand (the limit for write_last_access)."""
    from django.db import connection

    counter, flush_ns = WriteCounter(), 0
    for chunk in chunks:
        now = time.time()
        ids = sorted(set(chunk))
        with connection.execute_wrapper(counter), connection.cursor() as cursor:
            started = time.perf_counter_ns()
            cursor.execute(PEER_FLUSH_SQL, [ids, [now] * len(ids)])
            flush_ns += time.perf_counter_ns() - started
    return {
        "flush_ms_total": flush_ns / 1e6,
        "flush_ms_per_interval": flush_ns / 1e6 / len(chunks),
        "update_statements": counter.statements,
        "rows_updated": counter.rows,
    }


# --- baseline: one UPDATE per hit --------------------------------------------------------------


def run_naive(hits: list[int], extrapolate_to: int) -> dict[str, float]:
    from django.db import connection

    counter = WriteCounter()
    with connection.execute_wrapper(counter), connection.cursor() as cursor:
        started = time.perf_counter_ns()
        for version_id in hits:
            cursor.execute(NAIVE_SQL, [version_id])
        elapsed = time.perf_counter_ns() - started
    per_hit = elapsed / len(hits)
    return {
        "hits_measured": len(hits),
        "ns_per_hit": per_hit,
        "ms_total_measured": elapsed / 1e6,
        "update_statements_measured": counter.statements,
        "rows_updated_measured": counter.rows,
        "extrapolated_seconds_for_all_hits": per_hit * extrapolate_to / 1e9,
        "extrapolated_writes_for_all_hits": extrapolate_to,
    }


# --- the run -----------------------------------------------------------------------------------


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0]}


def check_last_use(chunks: list[list[int]], since_epoch: float) -> str:
    """Every version hit must now show a last use at or after the run started."""
    from datetime import UTC, datetime

    from modelyard.registry.models import AssetVersion

    hit = {version_id for chunk in chunks for version_id in chunk}
    since = datetime.fromtimestamp(since_epoch, tz=UTC)
    fresh = AssetVersion.objects.filter(pk__in=hit, last_accessed_at__gte=since).count()
    return "PASS" if fresh == len(hit) else f"FAIL ({fresh} of {len(hit)} moved forward)"


def measure(version_ids: list[int], args: argparse.Namespace) -> dict[str, Any]:
    hits = skewed_hits(version_ids, args.hits)
    chunks = intervals(hits, args.intervals)
    runs: dict[str, list[dict[str, float]]] = {"embedded": [], "redis": [], "peer": [], "naive": []}
    checks = set()
    for repetition in range(args.repetitions):
        started = time.time()
        runs["embedded"].append(run_embedded(chunks))
        checks.add(check_last_use(chunks, started))
        started = time.time()
        runs["redis"].append(run_redis(chunks, args.replicas))
        checks.add(check_last_use(chunks, started))
        runs["peer"].append(run_flush_peer(chunks))
        runs["naive"].append(run_naive(hits[: args.naive_hits], len(hits)))
        print(f"  repetition {repetition + 1}/{args.repetitions} done")
    figures: dict[str, Any] = {mode: medians(samples) for mode, samples in runs.items()}
    figures["hand_written_flush"] = figures.pop("peer")
    figures["last_use_checks"] = sorted(checks)
    return figures


def ratios(figures: dict[str, Any], hits: int) -> dict[str, float]:
    naive = figures["naive"]
    result: dict[str, float] = {}
    for mode in ("embedded", "redis"):
        entry = figures[mode]
        result[f"naive_ns_per_hit_over_{mode}_record"] = (
            naive["ns_per_hit"] / entry["record_ns_per_call"]
        )
        result[f"naive_ns_per_hit_over_{mode}_end_to_end"] = (
            naive["ns_per_hit"] / entry["end_to_end_ns_per_hit"]
        )
        result[f"naive_writes_over_{mode}_rows_updated"] = hits / entry["rows_updated"]
    peer = figures["hand_written_flush"]["flush_ms_total"]
    result["embedded_flush_over_hand_written_flush"] = figures["embedded"]["flush_ms_total"] / peer
    return {key: round(value, 1) for key, value in result.items()}


def print_report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    for mode in ("embedded", "redis"):
        entry = figures[mode]
        target = "PASS" if entry["writes_per_version_per_interval"] <= 1 else "FAIL"
        print(
            f"\n[{mode}] record: {entry['record_ns_per_call']:,.0f} ns/call "
            f"({entry['record_ms_total']:,.1f} ms for {args.hits:,}); "
            f"flush: {entry['flush_ms_total']:,.1f} ms total "
            f"({entry['update_ms_in_database']:,.1f} ms of it executing the UPDATEs), "
            f"{entry['flush_ms_per_interval']:,.2f} ms/interval"
        )
        versions_hit = entry["versions_hit_per_interval_summed"]
        print(
            f"[{mode}] {entry['update_statements']:,.0f} UPDATE statements, "
            f"{entry['rows_updated']:,.0f} rows for {versions_hit:,.0f}"
            f" version-intervals hit: {entry['writes_per_version_per_interval']:.2f} "
            f"writes/version/interval — {target} (target <= 1)"
        )
    redis = figures["redis"]
    print(
        f"[redis] push {redis['push_to_redis_ms_total']:,.1f} ms, drain "
        f"{redis['drain_ms_total']:,.1f} ms; {args.replicas} replicas writing directly would "
        f"have written {redis['rows_if_each_replica_wrote_directly']:,.0f} rows"
    )
    peer = figures["hand_written_flush"]
    print(
        f"[hand-written flush, same intervals] {peer['flush_ms_total']:,.1f} ms total, "
        f"{peer['flush_ms_per_interval']:,.2f} ms/interval, {peer['update_statements']:,.0f} "
        f"statements, {peer['rows_updated']:,.0f} rows"
    )
    naive = figures["naive"]
    print(
        f"\n[naive] {naive['ns_per_hit'] / 1000:,.0f} µs/hit over {naive['hits_measured']:,.0f} "
        f"hits; EXTRAPOLATED to {args.hits:,}: "
        f"{naive['extrapolated_seconds_for_all_hits']:,.1f} s and {args.hits:,} writes"
    )
    for key, value in figures["ratios"].items():
        print(f"ratio {key}: {value:,.1f}x")
    print(f"last use moved forward for every version hit: {', '.join(figures['last_use_checks'])}")


def catalog(versions: int, home: Path) -> list[int]:
    """`versions` versions (10 teams x 10 versions a model), registered through the services."""
    from modelyard.registry.models import AssetVersion

    layout = catalog_data.Layout.for_total(versions, teams=10, per_model=10)
    asset_ids = catalog_data.create_assets(layout)
    existing = catalog_data.existing_store(home)
    catalog_data.register_versions(asset_ids, layout.versions_per_model, 1, existing)
    return list(AssetVersion.objects.values_list("pk", flat=True))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hits", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--intervals", type=int, default=10, help="flushes over the hits")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--naive-hits", type=int, default=5_000)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10,000 hits, 2 repetitions")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.quick:
        args.hits, args.naive_hits, args.repetitions = 10_000, 1_000, 2
    return args


def main() -> None:
    args = parse_args()
    stamp = common.run_stamp()  # before the copy of src/ is taken, so it names that code
    home = common.start_django(DATABASE, redis_url=common.REDIS_URL)
    try:
        version_ids = catalog(args.versions, home)
        figures = measure(version_ids, args)
        figures["ratios"] = ratios(figures, args.hits)
    finally:
        common.finish(DATABASE, home, args.keep)
    print_report(figures, args)
    config = {
        key: value for key, value in vars(args).items() if key not in ("quick", "keep", "stamp")
    }
    payload = {
        "benchmark": "access_tracking",
        "run": stamp,
        "config": {
            **config,
            "zipf_exponent": ZIPF_EXPONENT,
            "redis": common.REDIS_URL,
            "replicas_in": "one process, trackers called in turn",
        },
        **figures,
    }
    suffix = "" if args.hits == 100_000 else f"_{args.hits}"
    common.write_results(f"access_tracking{suffix}", payload)


if __name__ == "__main__":
    main()
