"""What both benchmarks share: a throwaway PostgreSQL database, Django set-up, statistics.

Each benchmark owns a dedicated database that is dropped and re-created at start, so a
run never depends on what an earlier one left behind, and dropped again at the end
unless `--keep` is given.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

SERVER_URL = os.environ.get("MODELYARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
# Redis database 15 belongs to the test suite; benchmarks keep to their own.
REDIS_URL = os.environ.get("MODELYARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
RESULTS = Path(__file__).resolve().parent / "results"
REPOSITORY = Path(__file__).resolve().parent.parent


def database_url(name: str) -> str:
    return f"{SERVER_URL}/{name}"


def recreate_database(name: str) -> None:
    drop_database(name)
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def configure_environment(database: str, home: Path, redis_url: str = "") -> None:
    """The MODELYARD_* variables a process needs; set before `django.setup()`."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "modelyard.settings",
            "MODELYARD_HOME": str(home),
            "MODELYARD_DATABASE_URL": database_url(database),
            "MODELYARD_ARTIFACT_ROOT": (home / "artifacts").as_uri(),
            "MODELYARD_SECRET_KEY": "benchmark-secret-key-not-for-production",
            "MODELYARD_REDIS_URL": redis_url,
            # Flushes happen when the benchmark says so, never on a timer mid-measurement.
            "MODELYARD_ACCESS_FLUSH_SECONDS": "3600",
            "MODELYARD_LOG_LEVEL": "WARNING",
        }
    )


def snapshot_source(home: Path) -> None:
    """Run this process, its workers and its server on a copy of src/ taken now.

    Others edit src/ while a run of several minutes goes on; without the copy, the web
    server could start on models newer than the migrations the run began with.
    """
    target = home / "src"
    shutil.copytree(
        REPOSITORY / "src" / "modelyard",
        target / "modelyard",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    sys.path.insert(0, str(target))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(target), os.environ.get("PYTHONPATH", "")])
    )


def start_django(database: str, redis_url: str = "") -> Path:
    """Fresh database and home directory, Django set up and migrated; returns the home."""
    import django

    home = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    snapshot_source(home)
    recreate_database(database)
    configure_environment(database, home, redis_url)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return home


def finish(database: str, home: Path, keep: bool) -> None:
    from django.db import connections

    connections.close_all()
    if keep:
        print(f"kept database {database} and home {home}")
        return
    drop_database(database)
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(home.parent / f"{home.name}-existing-store", ignore_errors=True)


def free_port() -> int:
    """A TCP port nothing listens on once the probe closes (for a server a benchmark starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with `fraction` of samples at or below."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize_ms(samples_ns: Sequence[int]) -> dict[str, float | int]:
    millis = [sample / 1e6 for sample in samples_ns]
    return {
        "median_ms": round(statistics.median(millis), 3),
        "p95_ms": round(percentile(millis, 0.95), 3),
        "n": len(millis),
    }


def run_stamp() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": _source_revision(),
        "cpus": os.cpu_count(),
        "postgres": _server_version(),
    }


def _source_revision() -> str:
    """HEAD, marked `+dirty` when src/ has uncommitted changes (the copy includes them)."""
    head = _git("rev-parse", "--short", "HEAD")
    return head + ("+dirty" if _git("status", "--porcelain", "--", "src") else "")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True)
    return done.stdout.strip()


def _server_version() -> str:
    with psycopg.connect(database_url("postgres")) as admin:
        row = admin.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path.relative_to(RESULTS.parent.parent)}")
    return path


# --- process trees (/proc) ---------------------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    """The process and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def proc_kb(pid: int, field: str, source: str = "status") -> int:
    """A kB figure of /proc/PID/SOURCE (`VmRSS` of status, `Pss` of smaps_rollup); 0 for a
    process gone or a zombie (which has no VmRSS line)."""
    try:
        text = Path(f"/proc/{pid}/{source}").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a process started in a session of its own, then SIGKILL whatever is left of
    its group (a worker that ignored SIGTERM, an orphan)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
