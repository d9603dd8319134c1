"""The lifecycle scan over a million versions: time, memory, queries and emails.

Issue acceptance: 1,000,000 asset versions across 1,000 teams in PostgreSQL, 10% unused
for more than 30 days. On a 2-core machine the scan with its enqueueing (state changes and
notice ledger rows) must take at most 60 s and 300 MB peak RSS, issue a number of queries
bounded by batches and teams (never one per version), and the sender must produce one
email per recipient, team and step.

The catalog is written straight into the tables with PostgreSQL COPY (psycopg's
`copy.write_row`): the service layer registers a few hundred versions a second and is
benchmarked elsewhere. 1,000 teams of two members each (and a contact address), 30
assets per team spread over the three kinds, one artifact per version, a production alias
on one model per team; `asset.latest_version` matches the versions written. One version in
five (and every production version) has an upstream lineage edge to a data set or feature
set version of its team, so the scan computes lineage protection on a realistic graph. Then VACUUM
ANALYZE. The loaded catalog is a seed database; every measurement runs on a fresh copy
(`CREATE DATABASE … TEMPLATE`), so repetitions start alike. `--reuse` keeps the seed for
the next run.

Each measurement runs in a child process, so its peak RSS is the scan's own:
- dry run: `scan(at, dry_run=True)` (reads and plans only);
- apply: `scan(at)` (claims, notices, audit rows), then `send_pending(at)` into an outbox.
SQL statements are counted with `connection.execute_wrapper`. The hand-written limit is
what reading the candidates costs at the least: a `count(*)` of the stale active versions
and a server-side cursor streaming their ids, timed in this process on the same copy.

Run: .venv/bin/python benchmarks/lifecycle_scan.py [--quick | --versions N --teams T]
     [--repeat R] [--reuse] [--profile]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

import common

DATABASE = "modelyard_bench_lifecycle"
SEED_DATABASE = "modelyard_bench_lifecycle_seed"
DEFAULT_VERSIONS, DEFAULT_TEAMS = 1_000_000, 1_000
QUICK_VERSIONS, QUICK_TEAMS = 20_000, 50
ASSETS_PER_TEAM = 30
MEMBERS_PER_TEAM = 2
KINDS = ("model", "dataset", "featureset")
STALE_FRACTION = 0.10
LINEAGE_FRACTION = 0.20
STALE_AFTER_DAYS = 30  # the default first-notice threshold: no Policy rows are written
TARGET_SCAN_SECONDS = 60.0
TARGET_RSS_MB = 300.0
SCAN_BATCH = 2000  # modelyard.lifecycle.scan.BATCH, repeated to state the query bound
SEED = 20240611
ARTIFACT_ROOT = "file:///srv/modelyard-bench/artifacts"  # never read: the scan needs no bytes

STALE_COUNT_SQL = """
SELECT count(*) FROM registry_assetversion
WHERE lifecycle_state = 'active' AND last_accessed_at < %s
"""
STALE_IDS_SQL = """
SELECT id FROM registry_assetversion
WHERE lifecycle_state = 'active' AND last_accessed_at < %s
"""


# --- the catalog ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    versions: int
    teams: int
    assets_per_team: int
    at: datetime  # the scan's "now"; every last use is placed relative to it

    @classmethod
    def of(cls, versions: int, teams: int) -> Layout:
        per_team = max(1, min(ASSETS_PER_TEAM, versions // teams))
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(versions, teams, per_team, now)

    @property
    def assets(self) -> int:
        return self.teams * self.assets_per_team

    def versions_of(self, asset_index: int) -> int:
        base, extra = divmod(self.versions, self.assets)
        return base + (asset_index < extra)

    def first_version_id(self, asset_index: int) -> int:
        base, extra = divmod(self.versions, self.assets)
        return asset_index * base + min(asset_index, extra) + 1

    def team_of(self, asset_index: int) -> int:
        return asset_index // self.assets_per_team + 1

    def kind_of(self, asset_index: int) -> str:
        return KINDS[asset_index % self.assets_per_team % len(KINDS)]

    def same_size(self, other: Layout) -> bool:
        return (self.versions, self.teams, self.assets_per_team) == (
            other.versions,
            other.teams,
            other.assets_per_team,
        )


def first_member(team: int) -> int:
    return (team - 1) * MEMBERS_PER_TEAM + 1


def user_rows(layout: Layout) -> Iterator[tuple[Any, ...]]:
    for team in range(1, layout.teams + 1):
        for member in range(MEMBERS_PER_TEAM):
            user_id = first_member(team) + member
            name = f"user{user_id}"
            email = f"{name}@example.com"
            yield (user_id, "!", False, name, "", "", email, False, True, layout.at)


def team_rows(layout: Layout) -> Iterator[tuple[Any, ...]]:
    for team in range(1, layout.teams + 1):
        yield (team, f"team-{team:04d}", f"Team {team}", f"team-{team}@example.com", layout.at)


def membership_rows(layout: Layout) -> Iterator[tuple[Any, ...]]:
    for team in range(1, layout.teams + 1):
        for member in range(MEMBERS_PER_TEAM):
            user_id = first_member(team) + member
            role = "owner" if member == 0 else "member"
            yield (user_id, user_id, team, role, layout.at)


def asset_rows(layout: Layout) -> Iterator[tuple[Any, ...]]:
    for index in range(layout.assets):
        team, kind = layout.team_of(index), layout.kind_of(index)
        created = layout.at - timedelta(days=500)
        name = f"{kind}-{index % layout.assets_per_team:03d}"
        owner, latest = first_member(team), layout.versions_of(index)
        yield (index + 1, kind, team, name, "", "{}", created, owner, created, latest)


def numbered_versions(layout: Layout) -> Iterator[tuple[int, int, int]]:
    """(version id, asset index, version number) for every version, ids from 1."""
    version_id = 0
    for index in range(layout.assets):
        for number in range(1, layout.versions_of(index) + 1):
            version_id += 1
            yield version_id, index, number


def version_rows(layout: Layout) -> Iterator[tuple[Any, ...]]:
    """Rows in VERSION_COLUMNS order; one in ten (at random) unused for 31 to 400 days."""
    rng = random.Random(SEED)
    born = layout.at - timedelta(days=450)
    for version_id, index, number in numbered_versions(layout):
        stale = rng.random() < STALE_FRACTION
        used = layout.at - timedelta(days=rng.uniform(31, 400) if stale else rng.uniform(0, 29))
        created = born + timedelta(minutes=number)
        team = layout.team_of(index)
        yield (
            *(version_id, index + 1, team, layout.kind_of(index), number, "", "sklearn"),
            *("{}", "{}", "{}", "{}", created, created, first_member(team), used, "active"),
            created,
            *(None, 0, None, None, False, None, None, ""),
        )


VERSION_COLUMNS = (
    "id asset_id team_id kind version description flavor signature metrics params tags created_at "
    "registered_at created_by_id last_accessed_at lifecycle_state lifecycle_changed_at "
    "deleted_at bytes_reclaimed kept_at pinned_until legal_hold notice_sent_at "
    "final_notice_sent_at deletion_error"
)


def artifact_rows(layout: Layout) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(SEED + 1)
    for version_id, index, number in numbered_versions(layout):
        name = "model.joblib" if layout.kind_of(index) == "model" else "data.parquet"
        uri = f"{ARTIFACT_ROOT}/{index + 1}/{number}/{name}"
        size, checksum = rng.randint(1_000, 2_000_000_000), f"sha256:{version_id:064x}"
        yield (version_id, version_id, name, uri, size, checksum, False, False, layout.at)


def alias_rows(layout: Layout) -> Iterator[tuple[Any, ...]]:
    """A production alias on the newest version of each team's first asset."""
    for team in range(1, layout.teams + 1):
        index = (team - 1) * layout.assets_per_team
        newest = layout.first_version_id(index) + layout.versions_of(index) - 1
        yield (team, index + 1, "production", newest, layout.at, None)


def _production_ids(layout: Layout) -> set[int]:
    return {row[3] for row in alias_rows(layout)}


def lineage_rows(layout: Layout) -> Iterator[tuple[Any, ...]]:
    """An upstream edge for one version in five and for every production version."""
    rng = random.Random(SEED + 2)
    production = _production_ids(layout)
    data_positions = [p for p in range(layout.assets_per_team) if KINDS[p % len(KINDS)] != "model"]
    edge_id = 0
    for version_id, index, _ in numbered_versions(layout):
        if version_id not in production and rng.random() >= LINEAGE_FRACTION:
            continue
        first = (layout.team_of(index) - 1) * layout.assets_per_team
        choices = [first + p for p in data_positions if first + p != index]
        if not choices:
            continue
        upstream = rng.choice(choices)
        upstream_id = layout.first_version_id(upstream) + rng.randrange(
            layout.versions_of(upstream)
        )
        relation = "trained_on" if layout.kind_of(index) == "model" else "derived_from"
        edge_id += 1
        yield (edge_id, version_id, upstream_id, relation)


TABLES: dict[str, str] = {
    "auth_user": "id password is_superuser username first_name last_name email is_staff "
    "is_active date_joined",
    "accounts_team": "id name display_name contact_email created_at",
    "accounts_membership": "id user_id team_id role created_at",
    "registry_asset": "id kind team_id name description tags created_at created_by_id "
    "updated_at latest_version",
    "registry_assetversion": VERSION_COLUMNS,
    "registry_artifact": "id version_id name uri size_bytes checksum is_prefix uploaded created_at",
    "registry_alias": "id asset_id name version_id updated_at updated_by_id",
    "registry_lineageedge": "id downstream_id upstream_id relation",
}


def table_rows(layout: Layout) -> dict[str, Iterable[tuple[Any, ...]]]:
    return {
        "auth_user": user_rows(layout),
        "accounts_team": team_rows(layout),
        "accounts_membership": membership_rows(layout),
        "registry_asset": asset_rows(layout),
        "registry_assetversion": version_rows(layout),
        "registry_artifact": artifact_rows(layout),
        "registry_alias": alias_rows(layout),
        "registry_lineageedge": lineage_rows(layout),
    }


def copy_rows(conn: psycopg.Connection, table: str, rows: Iterable[tuple[Any, ...]]) -> int:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in TABLES[table].split())
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), columns)
    count = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    conn.execute(
        sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), {})").format(
            sql.Literal(table), sql.Literal(max(count, 1))
        )
    )
    return count


def load_catalog(layout: Layout) -> float:
    """COPY every table of the seed database; returns the wall time in seconds."""
    started = time.perf_counter()
    with psycopg.connect(common.database_url(SEED_DATABASE)) as conn:
        for table, rows in table_rows(layout).items():
            began = time.perf_counter()
            count = copy_rows(conn, table, rows)
            print(f"  {table}: {count:,} rows in {time.perf_counter() - began:.1f} s")
        save_layout(conn, layout)
    with psycopg.connect(common.database_url(SEED_DATABASE), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def save_layout(conn: psycopg.Connection, layout: Layout) -> None:
    conn.execute(
        "CREATE TABLE bench_layout (versions int, teams int, assets_per_team int, at timestamptz)"
    )
    conn.execute(
        "INSERT INTO bench_layout VALUES (%s, %s, %s, %s)",
        (layout.versions, layout.teams, layout.assets_per_team, layout.at),
    )


def saved_layout() -> Layout | None:
    """The layout the seed database holds, or None if there is no complete seed."""
    try:
        with psycopg.connect(common.database_url(SEED_DATABASE)) as conn:
            row = conn.execute("SELECT versions, teams, assets_per_team, at FROM bench_layout")
            found = row.fetchone()
    except psycopg.Error:
        return None
    return Layout(*found) if found else None


# --- databases -----------------------------------------------------------------------------


def prepare_seed(wanted: Layout, reuse: bool) -> tuple[Layout, float | None]:
    """A migrated seed database holding `wanted`'s size; returns its layout and load time."""
    existing = saved_layout() if reuse else None
    if existing and existing.same_size(wanted):
        print(f"reusing seed database {SEED_DATABASE} ({existing.versions:,} versions)")
        migrate(SEED_DATABASE)
        return existing, None
    common.recreate_database(SEED_DATABASE)
    migrate(SEED_DATABASE)
    print(f"loading {wanted.versions:,} versions, {wanted.teams:,} teams with COPY")
    seconds = load_catalog(wanted)
    print(f"loaded in {seconds:.1f} s")
    return wanted, seconds


def migrate(database: str) -> None:
    """Bring the schema up to date in a child process (Django binds to one database)."""
    env = dict(os.environ, MODELYARD_DATABASE_URL=common.database_url(database))
    code = "import django; django.setup(); from django.core.management import call_command; "
    code += "call_command('migrate', interactive=False, verbosity=0)"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def copy_seed() -> None:
    common.drop_database(DATABASE)
    with psycopg.connect(common.database_url("postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(DATABASE), sql.Identifier(SEED_DATABASE)
            )
        )


# --- the hand-written limit ----------------------------------------------------------------


def read_candidates(at: datetime) -> tuple[float, int]:
    """count(*) of the stale active versions plus streaming their ids; (seconds, ids)."""
    cutoff = at - timedelta(days=STALE_AFTER_DAYS)
    with psycopg.connect(common.database_url(DATABASE)) as conn:
        started = time.perf_counter()
        conn.execute(STALE_COUNT_SQL, (cutoff,)).fetchone()
        with conn.cursor(name="stale_ids") as cursor:
            cursor.itersize = SCAN_BATCH
            cursor.execute(STALE_IDS_SQL, (cutoff,))
            streamed = sum(1 for _ in cursor)
        return time.perf_counter() - started, streamed


# --- the child process ---------------------------------------------------------------------


@dataclass
class QueryCounter:
    """An execute wrapper counting statements by their first word, and their time."""

    by_verb: Counter[str]
    database_seconds: float = 0.0

    def __call__(
        self, execute: Callable[..., Any], sql_text: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            self.database_seconds += time.perf_counter() - started
            self.by_verb[sql_text.lstrip().split(None, 1)[0].upper()] += 1

    def figures(self) -> dict[str, Any]:
        return {
            "total": sum(self.by_verb.values()),
            "by_verb": dict(self.by_verb),
            "database_seconds": round(self.database_seconds, 3),
        }


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed_phase(action: Callable[[], Any], profile: bool) -> tuple[Any, float, QueryCounter]:
    from django.db import connection

    counter = QueryCounter(Counter())
    profiler = _profiler() if profile else None
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = profiler.runcall(action) if profiler else action()
        seconds = time.perf_counter() - started
    if profiler:
        _print_profile(profiler)
    return result, seconds, counter


def _profiler() -> Any:
    import cProfile

    return cProfile.Profile()


def _print_profile(profiler: Any) -> None:
    import pstats

    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(25)


def child(mode: str, at: datetime, out: Path, profile: bool) -> None:
    import django

    django.setup()
    from modelyard.lifecycle.notify import send_pending
    from modelyard.lifecycle.scan import scan

    figures: dict[str, Any] = {"mode": mode, "rss_after_setup_mb": round(peak_rss_mb(), 1)}
    result, seconds, counter = timed_phase(lambda: scan(at, dry_run=mode == "dry"), profile)
    figures.update(
        scan_seconds=round(seconds, 3),
        scan_queries=counter.figures(),
        rss_after_scan_mb=round(peak_rss_mb(), 1),
        planned=len(result.planned),
        applied={str(key): value for key, value in result.applied.items()},
    )
    del result
    if mode == "dry":
        from modelyard.registry.protection import protected_ids

        figures["protected_versions"] = len(protected_ids(at))
    if mode == "apply":
        sent, seconds, counter = timed_phase(lambda: send_pending(at), profile)
        figures.update(
            send_seconds=round(seconds, 3),
            send_queries=counter.figures(),
            emails=sent.emails,
            notices_sent=sent.notices,
            rss_peak_mb=round(peak_rss_mb(), 1),
        )
    out.write_text(json.dumps(figures))


def run_child(mode: str, at: datetime, outbox: Path, profile: bool) -> dict[str, Any]:
    out = outbox.parent / f"{mode}.json"
    env = dict(
        os.environ,
        MODELYARD_DATABASE_URL=common.database_url(DATABASE),
        MODELYARD_EMAIL_URL=f"outbox://{outbox}",
    )
    command = [sys.executable, __file__, "--child", mode, "--at", at.isoformat(), "--out"]
    if profile:
        command.append("--profile")
    # The outbox prints a line per email on stdout: not wanted among the figures.
    subprocess.run([*command, str(out)], env=env, check=True, stdout=subprocess.DEVNULL)
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["outbox_files"] = sum(1 for _ in outbox.glob("*.eml")) if outbox.exists() else 0
    return figures


# --- one repetition ------------------------------------------------------------------------


LEDGER_SQL = """
SELECT count(*), count(DISTINCT version_id), count(DISTINCT (team_id, step, recipient)),
       count(*) FILTER (WHERE sent_at IS NULL)
FROM lifecycle_notice
"""


def ledger() -> dict[str, int]:
    with psycopg.connect(common.database_url(DATABASE)) as conn:
        row = conn.execute(LEDGER_SQL).fetchone()
    assert row is not None
    keys = ("notices", "versions_noticed", "recipient_groups", "unsent")
    return dict(zip(keys, row, strict=True))


def repetition(layout: Layout, work: Path, profile: bool) -> dict[str, Any]:
    copy_seed()
    load_before = os.getloadavg()[0]  # others share this machine: say how busy it was
    limits = [read_candidates(layout.at) for _ in range(3)]
    dry = run_child("dry", layout.at, work / "dry-outbox", profile=False)
    outbox = work / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    applied = run_child("apply", layout.at, outbox, profile)
    return {
        "limit_seconds": statistics.median(seconds for seconds, _ in limits),
        "stale_ids_streamed": limits[0][1],
        "dry": dry,
        "apply": applied,
        "ledger": ledger(),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


# --- verdicts ------------------------------------------------------------------------------


def median_of(reps: Sequence[dict[str, Any]], *path: str) -> float:
    values = []
    for rep in reps:
        value: Any = rep
        for key in path:
            value = value[key]
        values.append(float(value))
    return statistics.median(values)


def query_bound(layout: Layout, candidates: int) -> int:
    """Statements a batched scan may issue: a handful per batch, two per team, set-up."""
    batches = math.ceil(candidates / SCAN_BATCH) + 2  # +1 empty read closing each stream
    return 6 * batches + 2 * layout.teams + 10


def verdicts(layout: Layout, reps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    last = reps[-1]
    scan = median_of(reps, "apply", "scan_seconds")
    rss = max(rep["apply"]["rss_after_scan_mb"] for rep in reps)
    queries = last["apply"]["scan_queries"]["total"]
    bound = query_bound(layout, last["stale_ids_streamed"])
    groups, emails = last["ledger"]["recipient_groups"], last["apply"]["emails"]
    return [
        _verdict("scan + enqueue (s)", scan, TARGET_SCAN_SECONDS, scan <= TARGET_SCAN_SECONDS),
        _verdict("scan peak RSS (MB)", rss, TARGET_RSS_MB, rss <= TARGET_RSS_MB),
        _verdict("scan SQL statements", queries, bound, queries <= bound),
        _verdict("emails = recipient groups", emails, groups, emails == groups and groups > 0),
    ]


def _verdict(name: str, measured: float, target: float, passed: bool) -> dict[str, Any]:
    return {"check": name, "measured": measured, "target": target, "pass": passed}


# --- report --------------------------------------------------------------------------------


def summary(layout: Layout, reps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    limit = median_of(reps, "limit_seconds")
    scan = median_of(reps, "apply", "scan_seconds")
    dry = median_of(reps, "dry", "scan_seconds")
    return {
        "scan_apply_seconds": scan,
        "scan_dry_run_seconds": dry,
        "send_seconds": median_of(reps, "apply", "send_seconds"),
        "send_emails_per_second": round(
            reps[-1]["apply"]["emails"] / median_of(reps, "apply", "send_seconds"), 1
        ),
        "limit_seconds": round(limit, 3),
        "scan_to_limit_ratio": round(scan / limit, 1),
        "dry_run_to_limit_ratio": round(dry / limit, 1),
        "scan_peak_rss_mb": max(rep["apply"]["rss_after_scan_mb"] for rep in reps),
        "dry_run_peak_rss_mb": max(rep["dry"]["rss_after_scan_mb"] for rep in reps),
        "process_peak_rss_mb_with_send": max(rep["apply"]["rss_peak_mb"] for rep in reps),
        "rss_after_django_setup_mb": reps[-1]["apply"]["rss_after_setup_mb"],
        "scan_queries": reps[-1]["apply"]["scan_queries"],
        "send_queries": reps[-1]["apply"]["send_queries"],
        "query_bound": query_bound(layout, reps[-1]["stale_ids_streamed"]),
        "stale_candidates": reps[-1]["stale_ids_streamed"],
        "notices": reps[-1]["ledger"]["notices"],
        "versions_noticed": reps[-1]["ledger"]["versions_noticed"],
        "emails": reps[-1]["apply"]["emails"],
        "outbox_files": reps[-1]["apply"]["outbox_files"],
    }


def print_summary(figures: dict[str, Any], checks: Sequence[dict[str, Any]]) -> None:
    print()
    print(f"limit (count + stream stale ids)  {figures['limit_seconds']:8.2f} s")
    print(
        f"scan, dry run                     {figures['scan_dry_run_seconds']:8.2f} s  "
        f"x{figures['dry_run_to_limit_ratio']} the limit"
    )
    print(
        f"scan, applying                    {figures['scan_apply_seconds']:8.2f} s  "
        f"x{figures['scan_to_limit_ratio']} the limit"
    )
    print(
        f"send_pending                      {figures['send_seconds']:8.2f} s  "
        f"{figures['send_emails_per_second']} emails/s"
    )
    print(
        f"peak RSS: scan {figures['scan_peak_rss_mb']} MB, dry run "
        f"{figures['dry_run_peak_rss_mb']} MB, scan+send {figures['process_peak_rss_mb_with_send']}"
        f" MB (after django.setup: {figures['rss_after_django_setup_mb']} MB)"
    )
    print(f"SQL, scan: {figures['scan_queries']}")
    print(f"SQL, send: {figures['send_queries']}")
    print(
        f"candidates {figures['stale_candidates']:,}, notices {figures['notices']:,} over "
        f"{figures['versions_noticed']:,} versions, emails {figures['emails']:,} "
        f"(outbox files {figures['outbox_files']:,})"
    )
    for check in checks:
        verdict = "PASS" if check["pass"] else "FAIL"
        print(f"{verdict}  {check['check']}: {check['measured']:,.1f} (target {check['target']:,})")


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=DEFAULT_VERSIONS)
    parser.add_argument("--teams", type=int, default=DEFAULT_TEAMS)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_VERSIONS:,} versions")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions on fresh copies")
    parser.add_argument("--reuse", action="store_true", help="reuse and keep the seed database")
    parser.add_argument("--profile", action="store_true", help="cProfile the applying child")
    parser.add_argument("--child", choices=["dry", "apply"], help=argparse.SUPPRESS)
    parser.add_argument("--at", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.versions, args.teams = QUICK_VERSIONS, QUICK_TEAMS
    return args


def run(args: argparse.Namespace, home: Path) -> None:
    layout, load_seconds = prepare_seed(Layout.of(args.versions, args.teams), args.reuse)
    reps = []
    for number in range(args.repeat):
        print(f"repetition {number + 1}/{args.repeat}")
        reps.append(repetition(layout, home, args.profile and number == 0))
    figures, checks = summary(layout, reps), verdicts(layout, reps)
    print_summary(figures, checks)
    config = asdict(layout) | {"stale_fraction": STALE_FRACTION, "repeat": args.repeat}
    config |= {"members_per_team": MEMBERS_PER_TEAM, "loader": "COPY (psycopg write_row)"}
    payload: dict[str, Any] = {"run": common.run_stamp(), "config": config}
    payload |= {"load_seconds": load_seconds}
    payload |= {"summary": figures, "checks": checks, "repetitions": reps}
    default_size = (args.versions, args.teams) == (DEFAULT_VERSIONS, DEFAULT_TEAMS)
    common.write_results("lifecycle_scan" + ("" if default_size else f"_{args.versions}"), payload)


def main() -> None:
    args = parse_args()
    if args.child:
        child(args.child, datetime.fromisoformat(args.at), args.out, args.profile)
        return
    home = Path(tempfile.mkdtemp(prefix="modelyard-bench-lifecycle-"))
    common.snapshot_source(home)
    common.configure_environment(SEED_DATABASE, home)
    try:
        run(args, home)
    finally:
        common.drop_database(DATABASE)
        if not args.reuse:
            common.drop_database(SEED_DATABASE)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
