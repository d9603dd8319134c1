"""Version and model listings of a 100,000-version registry through the real API, against raw SQL.

1. Registers the catalog through `services.register_version` (see catalog_data.py).
2. VACUUM ANALYZE, then starts the web app with gunicorn (`modelyard server`'s command
   line) and times each listing over HTTP with a bearer token, interleaved with the
   same filters as hand-written SQL over psycopg (page of 50 plus the count): the
   limit the API could reach, reported as the ratio API / raw.
3. EXPLAIN (ANALYZE, BUFFERS) of the stale-since query exactly as the ORM builds it, and
   a PASS/FAIL line on whether an index on last_accessed_at drives it.

Run: .venv/bin/python benchmarks/registry_listing.py [--quick | --versions N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg

import catalog_data
import common

DATABASE = "modelyard_bench_listing"
DEFAULT_VERSIONS = 100_000
QUICK_VERSIONS = 2_000
STALE_DAYS = 60
DEEP_OFFSET = 5_000
PAGE = 50
INDEX_USE = re.compile(
    r"(?:Bitmap Index Scan on|Index(?: Only)? Scan(?: Backward)? using) "
    r"(version_last_accessed|version_lifecycle)\b"
)

PAGE_SQL = """
SELECT v.id, v.kind, t.name, a.name, v.version, v.flavor, v.metrics, v.tags,
       v.created_at, v.last_accessed_at, v.lifecycle_state,
       COALESCE((SELECT sum(f.size_bytes) FROM registry_artifact f
                 WHERE f.version_id = v.id), 0)
FROM registry_assetversion v
JOIN registry_asset a ON a.id = v.asset_id
JOIN accounts_team t ON t.id = a.team_id
WHERE {where}
ORDER BY {order}
LIMIT 50 OFFSET %(offset)s
"""
COUNT_SQL = "SELECT count(*) FROM registry_assetversion v {joins} WHERE {where}"
# `GET /models` (and `modelyard models list`): assets with their aliases, by team and name.
ASSET_PAGE_SQL = """
SELECT a.id, a.kind, t.name, a.name, a.description, a.tags, a.created_at, a.updated_at,
       a.latest_version,
       (SELECT json_object_agg(al.name, av.version) FROM registry_alias al
        JOIN registry_assetversion av ON av.id = al.version_id WHERE al.asset_id = a.id)
FROM registry_asset a
JOIN accounts_team t ON t.id = a.team_id
WHERE {where}
ORDER BY t.name, a.name
LIMIT 50 OFFSET %(offset)s
"""
ASSET_COUNT_SQL = (
    "SELECT count(*) FROM registry_asset a JOIN accounts_team t ON t.id = a.team_id WHERE {where}"
)
ASSET_JOINS = "JOIN registry_asset a ON a.id = v.asset_id JOIN accounts_team t ON t.id = a.team_id"


@dataclass(frozen=True)
class Scenario:
    """One listing, as an API request and as the equivalent hand-written SQL."""

    name: str
    team: str | None = None
    stale_since: datetime | None = None
    model: str | None = None
    offset: int = 0
    models: bool = False  # the models listing rather than versions

    @property
    def path(self) -> str:
        if self.models:
            return "/api/v1/models"
        if self.model:
            return f"/api/v1/models/{self.team}/{self.model}/versions"
        return "/api/v1/versions"

    @property
    def query(self) -> dict[str, str | int]:
        query: dict[str, str | int] = {"limit": PAGE, "offset": self.offset}
        if self.team and not self.model:
            query["team"] = self.team
        if self.stale_since:
            query["stale_since"] = self.stale_since.isoformat()
        return query

    def raw_sql(self) -> tuple[str, str]:
        if self.models:
            where = "a.kind = 'model'" + (" AND t.name = %(team)s" if self.team else "")
            return ASSET_PAGE_SQL.format(where=where), ASSET_COUNT_SQL.format(where=where)
        where = " AND ".join(self._clauses()) or "TRUE"
        joins = ASSET_JOINS if self.model else ""
        return (
            PAGE_SQL.format(where=where, order=self._order()),
            COUNT_SQL.format(joins=joins, where=where),
        )

    def raw_params(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "model": self.model,
            "stale": self.stale_since,
            "offset": self.offset,
        }

    def _clauses(self) -> list[str]:
        clauses = []
        if self.team:
            # The hand-written best: the version's own team column, id looked up once.
            clauses.append("v.team_id = (SELECT id FROM accounts_team WHERE name = %(team)s)")
        if self.model:
            clauses.append("a.kind = 'model' AND a.name = %(model)s")
        if self.stale_since:
            clauses.append("v.last_accessed_at < %(stale)s")
        return clauses

    def _order(self) -> str:
        if self.model:
            return "v.version DESC"
        if self.stale_since:
            return "v.last_accessed_at, v.id"
        return "v.registered_at DESC, v.id"


def scenarios(total: int, cutoff: datetime) -> list[Scenario]:
    team = catalog_data.team_name(0)
    return [
        Scenario("all_page1"),
        Scenario("team", team=team),
        Scenario("stale_since", stale_since=cutoff),
        Scenario("team_stale_since", team=team, stale_since=cutoff),
        Scenario("per_model", team=team, model=catalog_data.model_name(0)),
        Scenario("deep_page", offset=min(DEEP_OFFSET, max(0, total - PAGE))),
        Scenario("models_all", models=True),
        Scenario("models_team", team=team, models=True),
    ]


# --- the web server --------------------------------------------------------------------------


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`modelyard server` with one process; two threads select gunicorn's keep-alive worker."""
    from modelyard.cli.operate import server_argv

    port = common.free_port()
    with (home / "server.log").open("wb") as log:
        process = subprocess.Popen(
            server_argv("127.0.0.1", port, workers=1, threads=2),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    _wait_until_up(base_url, process, home / "server.log")
    return process, base_url


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz within 30 s; see {log}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def api_client(base_url: str) -> httpx.Client:
    from django.contrib.auth.models import User

    from modelyard.accounts.tokens import create_token

    user = User.objects.create_user("bench-reader", "bench@example.com")
    raw_token = create_token(user, "benchmark")[1]
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {raw_token}"})


# --- one call each way -----------------------------------------------------------------------


def call_api(client: httpx.Client, scenario: Scenario) -> dict[str, Any]:
    response = client.get(scenario.path, params=scenario.query)
    if response.status_code != 200:
        raise RuntimeError(f"{scenario.name}: HTTP {response.status_code} {response.text[:300]}")
    return {"content": response.content}


def call_raw(connection: psycopg.Connection[Any], scenario: Scenario) -> dict[str, Any]:
    page_sql, count_sql = scenario.raw_sql()
    params = scenario.raw_params()
    rows = connection.execute(page_sql, params).fetchall()
    count_row = connection.execute(count_sql, params).fetchone()
    return {"ids": [row[0] for row in rows], "count": count_row[0] if count_row else 0}


def check_same_answer(
    client: httpx.Client, raw: psycopg.Connection[Any], scenario: Scenario
) -> int:
    """The raw SQL must return what the API returns, or the ratio compares different work."""
    body = client.get(scenario.path, params=scenario.query).json()
    expected = call_raw(raw, scenario)
    api_ids = [item["id"] for item in body["items"]]
    if api_ids != expected["ids"] or body["count"] != expected["count"]:
        print(
            f"WARNING {scenario.name}: API and raw SQL disagree "
            f"(count {body['count']} vs {expected['count']})"
        )
    return int(body["count"])


def timed_ns(action: Callable[[], object]) -> int:
    started = time.perf_counter_ns()
    action()
    return time.perf_counter_ns() - started


@dataclass
class Samples:
    """Nanoseconds per call: each listing by API and by raw SQL, and GET /healthz."""

    listings: dict[str, dict[str, list[int]]]
    http_floor: list[int]


def measure(
    cases: list[Scenario],
    client: httpx.Client,
    raw: psycopg.Connection[Any],
    rounds: int,
    warmup: int,
) -> Samples:
    """Interleave API and raw calls round by round, so drift on a noisy machine hits both.

    /healthz (one `SELECT 1`) is the floor of the HTTP stack: what any request costs.
    """
    samples = Samples({c.name: {"api": [], "raw": []} for c in cases}, [])
    for round_index in range(warmup + rounds):
        floor_ns = timed_ns(lambda: client.get("/healthz"))
        for case in cases:
            api_ns = timed_ns(partial(call_api, client, case))
            raw_ns = timed_ns(partial(call_raw, raw, case))
            if round_index >= warmup:
                samples.listings[case.name]["api"].append(api_ns)
                samples.listings[case.name]["raw"].append(raw_ns)
        if round_index >= warmup:
            samples.http_floor.append(floor_ns)
    return samples


def listing_figures(samples: Samples, counts: dict[str, int]) -> dict[str, Any]:
    figures: dict[str, Any] = {"http_floor_healthz": common.summarize_ms(samples.http_floor)}
    for name, both in samples.listings.items():
        api, raw = common.summarize_ms(both["api"]), common.summarize_ms(both["raw"])
        ratio = statistics.median(both["api"]) / statistics.median(both["raw"])
        figures[name] = {
            "count": counts[name],
            "api": api,
            "raw_sql": raw,
            "ratio_api_to_raw": round(ratio, 2),
        }
    return figures


# --- the plan ----------------------------------------------------------------------------------


def orm_stale_queryset(cutoff: datetime, team: str | None = None) -> Any:
    """The queryset `GET /api/v1/versions?stale_since=…` pages, built as api.py builds it."""
    from modelyard.registry.api import VersionFilters, filter_versions
    from modelyard.registry.serializers import versions_query

    filters = VersionFilters(team=team, stale_since=cutoff)
    return filter_versions(versions_query(), filters).order_by("last_accessed_at", "id")


def explain(sql: str, params: Any) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def count_statement(queryset: Any) -> tuple[str, Any]:
    """The exact SQL and parameters `queryset.count()` sends."""
    from django.db import connection

    sent: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        queryset.count()
    return sent[-1]


def plan_of(queryset: Any) -> dict[str, Any]:
    page_plan = explain(*queryset[:PAGE].query.sql_with_params())
    match = INDEX_USE.search(page_plan)
    return {
        "index_on_last_accessed_at": match.group(1) if match else None,
        "page_plan": page_plan,
        "count_plan": explain(*count_statement(queryset)),
    }


def plan_report(cutoff: datetime, team: str) -> dict[str, Any]:
    """The verdict is on the stale-since query; team + stale-since is shown for information,
    since there the team (1/20 of the rows) may rightly be the better way in."""
    stale = plan_of(orm_stale_queryset(cutoff))
    stale["verdict"] = "PASS" if stale["index_on_last_accessed_at"] else "FAIL"
    return {"stale_since": stale, "team_stale_since": plan_of(orm_stale_queryset(cutoff, team))}


def first_scan(plan: str) -> str:
    found = re.search(
        r"(Seq Scan on \w+|Bitmap Index Scan on \w+|Index (?:Only )?Scan\S* "
        r"(?:Backward )?using \w+ on \w+)",
        plan,
    )
    return found.group(1) if found else "?"


def print_plan(report: dict[str, Any]) -> None:
    stale, team_stale = report["stale_since"], report["team_stale_since"]
    print("\nEXPLAIN (ANALYZE, BUFFERS) — ORM stale-since page query (LIMIT 50):")
    print(stale["page_plan"])
    print("\nEXPLAIN (ANALYZE, BUFFERS) — its count():")
    print(stale["count_plan"])
    index = stale["index_on_last_accessed_at"] or "none: see the plan above"
    print(
        f"{stale['verdict']}: stale-since page query scans an index on last_accessed_at "
        f"({index}); count() starts with {first_scan(stale['count_plan'])}"
    )
    print(f"INFO: team + stale-since page query starts with {first_scan(team_stale['page_plan'])}")


# --- the run -----------------------------------------------------------------------------------


def load(layout: catalog_data.Layout, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    asset_ids = catalog_data.create_assets(layout)
    existing = None if args.upload else catalog_data.existing_store(home)
    how = "uploading" if args.upload else "referencing an existing file://"
    print(f"registering {layout.total:,} versions ({how}) with {args.workers} worker(s)…")
    seconds = catalog_data.register_versions(
        asset_ids, layout.versions_per_model, args.workers, existing
    )
    rate = layout.total / seconds
    print(f"registered {layout.total:,} versions in {seconds:.1f} s: {rate:,.0f} registrations/s")
    return {
        "versions": layout.total,
        "workers": args.workers,
        "artifact": how,
        "seconds": round(seconds, 1),
        "per_second": round(rate, 1),
    }


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def stale_share(cutoff: datetime) -> dict[str, Any]:
    from modelyard.registry.models import AssetVersion

    total = AssetVersion.objects.count()
    stale = AssetVersion.objects.filter(last_accessed_at__lt=cutoff).count()
    return {"versions": total, "stale_60_days": stale, "stale_share": round(stale / total, 3)}


def time_listings(home: Path, cases: list[Scenario], args: argparse.Namespace) -> dict[str, Any]:
    process, base_url = start_server(home)
    try:
        with (
            api_client(base_url) as client,
            psycopg.connect(
                common.database_url(DATABASE), autocommit=True, prepare_threshold=None
            ) as raw,
        ):
            counts = {case.name: check_same_answer(client, raw, case) for case in cases}
            samples = measure(cases, client, raw, args.rounds, args.warmup)
    finally:
        stop_server(process)
    return listing_figures(samples, counts)


def print_listings(figures: dict[str, Any]) -> None:
    print(
        f"\n{'listing':<18}{'count':>8}{'API med':>10}{'API p95':>10}"
        f"{'raw med':>10}{'raw p95':>10}{'API/raw':>9}"
    )
    for name, entry in figures.items():
        if name == "http_floor_healthz":
            continue
        api, raw = entry["api"], entry["raw_sql"]
        print(
            f"{name:<18}{entry['count']:>8}{api['median_ms']:>10.2f}{api['p95_ms']:>10.2f}"
            f"{raw['median_ms']:>10.2f}{raw['p95_ms']:>10.2f}{entry['ratio_api_to_raw']:>9.1f}"
        )
    floor = figures["http_floor_healthz"]
    print(f"{'GET /healthz':<18}{'':>8}{floor['median_ms']:>10.2f}{floor['p95_ms']:>10.2f}")
    print("(milliseconds; API = HTTP to gunicorn incl. token check; raw = psycopg page + count;")
    print(" /healthz = the HTTP stack's floor: one SELECT 1, no auth)")


def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    # Import the API now: the code under test is then the code the server starts with,
    # even if someone edits src/ during the long registration phase.
    import modelyard.registry.api  # noqa: F401

    layout = catalog_data.Layout.for_total(args.versions)
    registration = load(layout, args, home)
    vacuum_analyze()
    cutoff = datetime.now(UTC) - timedelta(days=STALE_DAYS)
    data = stale_share(cutoff)
    print(f"{data['stale_60_days']:,} of {data['versions']:,} unused for {STALE_DAYS} days")
    cases = scenarios(layout.total, cutoff)
    figures = time_listings(home, cases, args)
    print_listings(figures)
    plans = plan_report(cutoff, catalog_data.team_name(0))
    print_plan(plans)
    return {
        "benchmark": "registry_listing",
        "run": args.stamp,
        "config": config(layout, args),
        "registration": registration,
        "data": data,
        "listing": figures,
        "plans": plans,
    }


def config(layout: catalog_data.Layout, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "layout": f"{layout.teams} teams x {layout.models_per_team} models x "
        f"{layout.versions_per_model} versions",
        "artifact": f"one {len(catalog_data.ARTIFACT_BYTES)}-byte artifact per version, "
        + ("uploaded to file://" if args.upload else "existing file:// URI"),
        "api": "gunicorn (modelyard server argv), 1 worker, gthread 2 threads, httpx keep-alive, "
        "bearer token",
        "raw_sql": "psycopg, autocommit, no prepared statements; page of 50 + count(*)",
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "stale_since_days": STALE_DAYS,
        "page_size": PAGE,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=DEFAULT_VERSIONS)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_VERSIONS:,} versions")
    parser.add_argument("--workers", type=int, default=2, help="registration processes")
    parser.add_argument(
        "--upload",
        action="store_true",
        help="upload each artifact instead of referencing an existing file",
    )
    parser.add_argument("--rounds", type=int, default=30, help="timed calls per listing")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.quick:
        args.versions = QUICK_VERSIONS
    return args


def main() -> None:
    args = parse_args()
    args.stamp = common.run_stamp()  # before the copy of src/ is taken, so it names that code
    home = common.start_django(DATABASE)
    try:
        payload = run(args, home)
    finally:
        common.finish(DATABASE, home, args.keep)
    suffix = "" if args.versions == DEFAULT_VERSIONS else f"_{args.versions}"
    common.write_results(f"registry_listing{suffix}", payload)


if __name__ == "__main__":
    main()
