"""A burst of events against the jobs system: coalescing, the global cap, scheduler overhead.

Issue acceptance: 20,000 events for 50 projects arriving within seconds, with a global cap
of 15 and two worker processes: the maximum number of runs running at once (sampled; it
must never exceed 15), the runs created after coalescing, the time until all finished and
the scheduler's overhead per run.

    .venv/bin/python benchmarks/burst.py --quick     # 2,000 events, 10 projects, 0.5 s runs
    .venv/bin/python benchmarks/burst.py             # 20,000 events, 50 projects, 2 s runs
    .venv/bin/python benchmarks/burst.py --emit api  # through POST /api/v1/events instead

1. A throwaway PostgreSQL database (`modelyard_bench_burst`), migrated, a temporary
   MODELYARD_HOME and a copy of `src/` (common.py), Redis database 13 as the broker
   (flushed before and after). Every process gets MODELYARD_MAX_CONCURRENT_RUNS=15 and
   MODELYARD_RUN_HEARTBEAT_SECONDS=1.
2. Team `burst` and N projects `p<k>` applied with `jobs.projects.apply`, each with one
   command `score` listening `on: - table_loaded: {table: t<k>}` (an external event),
   `entry: work` in `benchmarks/burst_program/`: it sleeps BURST_SLEEP seconds and appends
   `RUN_ID ATTEMPT START END PID` to BURST_TIMESTAMPS, the ground truth of what ran when.
3. Two workers, each `modelyard worker --name burstN --queues Q --run-slots 8` with `Q` the
   queues the source under test routes `handle_event`, `dispatch_runs` and `execute_run`
   to (`events`, `default`, `runs`). Each runs two Celery nodes: the task queues on 2
   prefork processes (the command's default) and `runs` on 8 threads, each watching one
   run's subprocess: 16 run slots for a cap of 15, so the cap, not the pool, is what
   limits. No beat.
4. The events, round-robin over the projects' tables. By default `handle_event` is
   published straight to Redis, on its routed queue, by a Celery publisher (what `POST
   /api/v1/events` does after parsing and authenticating): on this 2-core machine the API
   path accepted 221 events/s with no worker running (1,000 events) and 36/s while the
   workers handled them (2,000 in 56 s): 20,000 would take 1.5-9 minutes, not seconds.
   `--emit api`: `modelyard server` (gunicorn, its default 2 processes x 4 threads),
   bearer token, 4 client threads with keep-alive.
5. While they are handled, a thread samples PostgreSQL every 50 ms (runs running, queued,
   and queued with no run of their command running: dispatchable) and the length of the
   broker's queues. Done when every event was absorbed by a run (the sum of `events`
   equals the events sent), nothing is queued or running and the queues are empty.
6. Figures from the rows and the timestamps file:
   - the cap, three ways: most runs `running` in a sample; most overlapping program
     executions in the timestamps file (the acceptance: both <= 15); and, as a check of
     the rows' history, most overlapping `started_at..finished_at` intervals;
   - coalescing: runs created, runs by state, events absorbed (and per run);
   - makespan: first event sent to the last `finished_at`; its lower bound
     `max(ceil(runs / 15) x sleep, most runs of one command x sleep (concurrency 1),
     emitting time + sleep)`; (makespan - bound) / runs = overhead per run;
   - where the overhead is, per run: executor start (program start in the file -
     `started_at`: the execute_run task through the broker, the claim, a new Python with
     Django set up), executor end (`finished_at` - program end), and dispatch latency:
     `started_at` - the moment the run could have started, i.e. the later of when it was
     ready (created, and its command's previous run finished) and when a slot was free
     (slots freed by `finished_at`, handed out in start order); from the samples, the
     time a slot stood free while a dispatchable run waited, and events handled a second
     by how many runs were running (before 8a27cb1 a running run held a prefork process
     that would otherwise handle events);
   - the hand-written limit, in the same run: 60 programs 15 at a time, each a new
     process from a thread pool, bare Python and Python + `django.setup()` (what a run's
     child pays before the program starts): programs a second against the burst's runs
     a second;
   - consistency: every project ran, every run ran its program exactly once, and the rows
     never show two runs of one command (concurrency 1) at once.

Writes `results/burst.json` (`burst_quick.json` with --quick) with a one-second timeline
of the samples.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

import common

DATABASE = "modelyard_bench_burst"
BROKER_URL = common.REDIS_URL
CAP = 15
WORKERS = 2
TASK_PROCESSES = 2  # `modelyard worker --concurrency`'s default
RUN_SLOTS = 8
SERVER_PROCESSES, SERVER_THREADS = 2, 4  # `modelyard server`'s defaults
CLIENTS = 4
SAMPLE_SECONDS = 0.05
LIMIT_PROGRAMS_RUN = 4 * CAP
PROGRAM = Path(__file__).resolve().parent / "burst_program"
EVENT = "table_loaded"
TEAM = "burst"


@dataclass(frozen=True)
class Config:
    events: int
    projects: int
    sleep: float
    emit: str
    timeout: float
    quick: bool
    keep: bool

    @property
    def name(self) -> str:
        return "burst_quick" if self.quick else "burst"


@dataclass(frozen=True)
class Queues:
    """Where the source under test routes the three tasks of the jobs system."""

    events: str  # handle_event
    dispatch: str  # dispatch_runs
    runs: str  # execute_run

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.events, self.dispatch, self.runs)))


def routed_queues() -> Queues:
    from django.conf import settings

    def queue_of(task: str) -> str:
        route = settings.CELERY_TASK_ROUTES.get(f"modelyard.jobs.tasks.{task}", {})
        return str(route.get("queue", settings.CELERY_TASK_DEFAULT_QUEUE))

    return Queues(queue_of("handle_event"), queue_of("dispatch_runs"), queue_of("execute_run"))


@dataclass
class Sample:
    at: float
    running: int
    queued: int
    dispatchable: int  # queued, and no run of its command running (concurrency 1)
    runs: int
    events_queue: int
    dispatch_queue: int
    runs_queue: int
    all_queues: int
    absorbed: int  # events folded into runs so far: handled events


@dataclass
class Emitted:
    first_sent: float = 0.0
    last_accepted: float = 0.0
    accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def seconds(self) -> float:
        return self.last_accepted - self.first_sent


# --- set-up ------------------------------------------------------------------------------------


def parse_args() -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 events, 10 projects, 0.5 s")
    parser.add_argument("--events", type=int)
    parser.add_argument("--projects", type=int)
    parser.add_argument("--sleep", type=float, help="seconds each run's program sleeps")
    parser.add_argument("--emit", choices=("api", "broker"), default="broker")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for all")
    parser.add_argument("--keep", action="store_true", help="keep the database and home")
    args = parser.parse_args()
    events = args.events or (2_000 if args.quick else 20_000)
    projects = args.projects or (10 if args.quick else 50)
    sleep = args.sleep if args.sleep is not None else (0.5 if args.quick else 2.0)
    return Config(
        events,
        projects,
        sleep,
        args.emit,
        args.timeout,
        args.quick,
        args.keep,
    )


def environment(config: Config) -> None:
    """What every process started from here inherits (set before `django.setup()`)."""
    os.environ.update(
        {
            "MODELYARD_BROKER_URL": BROKER_URL,
            "MODELYARD_MAX_CONCURRENT_RUNS": str(CAP),
            "MODELYARD_RUN_HEARTBEAT_SECONDS": "1",
            "BURST_SLEEP": str(config.sleep),
        }
    )


def project_spec(index: int) -> str:
    return (
        f"project: p{index}\nteam: {TEAM}\nprogram: {PROGRAM}\ncommands:\n"
        f"  score:\n    entry: work\n    on:\n      - {EVENT}: {{table: t{index}}}\n"
    )


def create_projects(config: Config) -> str:
    """The team, its owner, the projects; returns the owner's raw API token."""
    from django.contrib.auth.models import User

    from modelyard.accounts.models import Membership, Role, Team
    from modelyard.accounts.tokens import create_token
    from modelyard.jobs import projects

    owner = User.objects.create_user("burst-owner", "burst@example.com")
    team = Team.objects.create(name=TEAM)
    Membership.objects.create(user=owner, team=team, role=Role.OWNER)
    for index in range(config.projects):
        projects.apply(owner, project_spec(index))
    return create_token(owner, "burst benchmark")[1]


def flush_broker() -> None:
    redis.Redis.from_url(BROKER_URL).flushdb()


# --- processes ---------------------------------------------------------------------------------


def start_process(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """In its own process group, so stopping it stops its pool too."""
    with log.open("wb") as output:
        return subprocess.Popen(
            argv, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_workers(home: Path, queues: Sequence[str]) -> list[subprocess.Popen[bytes]]:
    started = []
    for number in range(1, WORKERS + 1):
        argv = [
            *[sys.executable, "-m", "modelyard.cli.main", "worker", "--name", f"burst{number}"],
            *["--queues", ",".join(queues), "--concurrency", str(TASK_PROCESSES)],
            *["--run-slots", str(RUN_SLOTS)],
        ]
        started.append(start_process(argv, home / f"worker{number}.log"))
    return started


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    from modelyard.cli.operate import server_argv

    port = common.free_port()
    process = start_process(
        server_argv("127.0.0.1", port, SERVER_PROCESSES, SERVER_THREADS), home / "server.log"
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {tail(home / 'server.log')}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return process, base_url
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def wait_for_workers(timeout: float = 60) -> None:
    """Both workers' nodes (tasks and runs) answer a ping before the burst starts."""
    from celery import Celery

    app = Celery(broker=BROKER_URL)
    nodes = 2 * WORKERS
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= nodes:
            return
    raise RuntimeError(f"the {nodes} worker nodes did not answer a ping within {timeout:.0f} s")


def stop_all(processes: Sequence[subprocess.Popen[bytes]], home: Path) -> None:
    """SIGTERM each main process (a warm shutdown: it stops its own pool), SIGKILL the
    process group after 30 s, then any run child of this home (they run in sessions of
    their own), found by the MODELYARD_HOME in their environment."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + 30
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for pid in processes_of_home(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def processes_of_home(home: Path) -> list[int]:
    marker = f"MODELYARD_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def node_processes(workers: Sequence[subprocess.Popen[bytes]]) -> dict[int, str]:
    """Each worker's node processes: pid -> worker name (a run's `worker` is host:pid:thread,
    and the pid is that of the worker's runs node)."""
    names = {worker.pid: f"burst{number}" for number, worker in enumerate(workers, 1)}
    owners = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent in names:
                owners[int(entry.name)] = names[parent]
    return owners


def timeline(samples: Sequence[Sample], since: float) -> dict[str, Any]:
    """One sample a second, for plotting: seconds since the first event, then the counts."""
    columns = ["s", "running", "queued", "dispatchable", "events_queue", "dispatch_queue"]
    rows, next_second = [], 0.0
    for sample in samples:
        at = sample.at - since
        if at >= next_second:
            counts = [sample.running, sample.queued, sample.dispatchable]
            rows.append([round(at, 1), *counts, sample.events_queue, sample.dispatch_queue])
            next_second = math.floor(at) + 1.0
    return {"columns": columns, "rows": rows}


def runs_per_worker(runs: Sequence[RunRow], owners: dict[int, str]) -> dict[str, int]:
    pids = (int(run.worker.split(":")[1]) for run in runs if run.worker)
    return dict(Counter(owners.get(pid, "unknown") for pid in pids))


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def log_problems(home: Path) -> list[str]:
    """Warnings, errors and tracebacks from the workers' and server's logs."""
    words = ("WARNING", "ERROR", "CRITICAL", "Traceback", "IntegrityError", "Error:")
    found = []
    for log in sorted(home.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if any(word in line for word in words):
                found.append(f"{log.name}: {line[:300]}")
    return found


# --- emitting ----------------------------------------------------------------------------------


def payload(index: int, projects: int) -> dict[str, str]:
    return {"table": f"t{index % projects}"}


def emit_over_api(base_url: str, token: str, config: Config) -> Emitted:
    emitted = Emitted()
    lock = threading.Lock()

    def client(offset: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            for index in range(offset, config.events, CLIENTS):
                body = {"event": EVENT, "payload": payload(index, config.projects)}
                response = http.post("/api/v1/events", json=body)
                with lock:
                    if response.status_code == 202:
                        emitted.accepted += 1
                    else:
                        emitted.errors[f"HTTP {response.status_code}"] += 1
        with lock:
            emitted.last_accepted = max(emitted.last_accepted, time.time())

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    emitted.first_sent = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return emitted


def emit_to_broker(config: Config, queue: str) -> Emitted:
    from celery import Celery

    publisher = Celery(broker=BROKER_URL)
    emitted = Emitted(first_sent=time.time())
    for index in range(config.events):
        publisher.send_task(
            "modelyard.jobs.tasks.handle_event",
            args=[EVENT, payload(index, config.projects), TEAM],
            queue=queue,
        )
        emitted.accepted += 1
    emitted.last_accepted = time.time()
    return emitted


# --- watching ----------------------------------------------------------------------------------

COUNTS_SQL = """
SELECT count(*) FILTER (WHERE state = 'running'),
       count(*) FILTER (WHERE state = 'queued'),
       count(*) FILTER (WHERE state = 'queued' AND NOT EXISTS (
           SELECT 1 FROM jobs_run other
           WHERE other.command_id = jobs_run.command_id AND other.state = 'running')),
       count(*),
       coalesce(sum(events), 0)
FROM jobs_run
"""


class Sampler(threading.Thread):
    """Every 50 ms: runs running and queued (PostgreSQL), the broker queues' lengths."""

    def __init__(self, queues: Queues) -> None:
        super().__init__(daemon=True)
        self.queues = queues
        self.samples: list[Sample] = []
        self.absorbed = 0
        self.stopping = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as error:  # reported by the main thread, never lost
            self.failure = error

    def _loop(self) -> None:
        broker = redis.Redis.from_url(BROKER_URL)
        with psycopg.connect(common.database_url(DATABASE), autocommit=True) as connection:
            while not self.stopping.is_set():
                began = time.monotonic()
                row = connection.execute(COUNTS_SQL).fetchone()
                assert row is not None
                running, queued, dispatchable, runs, self.absorbed = (int(v) for v in row)
                lengths = {queue: int(broker.llen(queue)) for queue in self.queues.all}
                self.samples.append(
                    Sample(
                        time.time(),
                        running,
                        queued,
                        dispatchable,
                        runs,
                        lengths[self.queues.events],
                        lengths[self.queues.dispatch],
                        lengths[self.queues.runs],
                        sum(lengths.values()),
                        self.absorbed,
                    )
                )
                self.stopping.wait(max(0.0, SAMPLE_SECONDS - (time.monotonic() - began)))


def wait_until_done(sampler: Sampler, config: Config, started: float) -> float:
    """When every event was absorbed, nothing is queued or running and the queues are empty."""
    while time.time() - started < config.timeout:
        if sampler.failure is not None:
            raise RuntimeError("the sampler failed") from sampler.failure
        last = sampler.samples[-1] if sampler.samples else None
        if (
            last is not None
            and sampler.absorbed == config.events
            and last.running == last.queued == last.all_queues == 0
        ):
            return last.at
        time.sleep(0.2)
    raise TimeoutError(f"not finished after {config.timeout:.0f} s")


@contextlib.contextmanager
def sampling(queues: Queues) -> Iterator[Sampler]:
    sampler = Sampler(queues)
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stopping.set()
        sampler.join(timeout=10)


# --- analysis ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    id: int
    command_id: int
    state: str
    events: int
    attempt: int
    created: float
    started: float | None
    finished: float | None
    worker: str
    error: str


@dataclass(frozen=True)
class Execution:
    run_id: int
    attempt: int
    start: float
    end: float


def load_runs() -> list[RunRow]:
    from modelyard.jobs.models import Run

    def seconds(moment: datetime | None) -> float | None:
        return moment.timestamp() if moment is not None else None

    return [
        RunRow(
            run.pk,
            run.command_id,
            run.state,
            run.events,
            run.attempt,
            run.created_at.timestamp(),
            seconds(run.started_at),
            seconds(run.finished_at),
            run.worker,
            run.error,
        )
        for run in Run.objects.order_by("id")
    ]


def load_executions(path: Path) -> list[Execution]:
    if not path.exists():
        return []
    executions = []
    for line in path.read_text().splitlines():
        run_id, attempt, start, end, _pid = line.split()
        executions.append(Execution(int(run_id), int(attempt), float(start), float(end)))
    return executions


def most_at_once(intervals: Sequence[tuple[float, float]]) -> int:
    """Most intervals open at one moment; one that ends as another starts is not counted."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, change in edges:
        open_now += change
        peak = max(peak, open_now)
    return peak


def readiness(runs: Sequence[RunRow]) -> dict[int, float]:
    """When each run could have started as far as its command allows: created, and the
    previous run of its command (concurrency 1) finished."""
    ready: dict[int, float] = {}
    previous: dict[int, float] = {}
    for run in sorted(runs, key=lambda r: (r.started or math.inf, r.id)):
        ready[run.id] = max(run.created, previous.get(run.command_id, -math.inf))
        if run.finished is not None:
            previous[run.command_id] = run.finished
    return ready


def dispatch_latencies(runs: Sequence[RunRow]) -> list[float]:
    """started_at minus the later of readiness and the earliest free slot (slots freed by
    finished_at, handed out in start order)."""
    ready = readiness(runs)
    timeline = []
    for run in runs:
        if run.started is not None and run.finished is not None:
            timeline += [(run.finished, 0, run), (run.started, 1, run)]
    free = [-math.inf] * CAP
    latencies = []
    for moment, kind, run in sorted(timeline, key=lambda item: (item[0], item[1])):
        if kind == 0:
            heapq.heappush(free, moment)
            continue
        slot = heapq.heappop(free) if free else moment  # empty: the cap was exceeded
        latencies.append(moment - max(ready[run.id], slot))
    return latencies


def seconds_summary(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"median": None, "p95": None, "max": None, "min": None, "n": 0}
    return {
        "median": round(statistics.median(values), 3),
        "p95": round(common.percentile(values, 0.95), 3),
        "max": round(max(values), 3),
        "min": round(min(values), 3),
        "n": len(values),
    }


def analyse(
    config: Config,
    emitted: Emitted,
    runs: list[RunRow],
    executions: list[Execution],
    samples: list[Sample],
) -> dict[str, Any]:
    ended = [(r, r.started, r.finished) for r in runs if r.started and r.finished]
    return {
        **emitting_figures(config, emitted),
        **coalescing_figures(runs),
        "max_running_sampled": max((s.running for s in samples), default=0),
        "samples": len(samples),
        "max_running_db_intervals": most_at_once([(start, end) for _, start, end in ended]),
        "max_overlap_programs": most_at_once([(e.start, e.end) for e in executions]),
        "max_queued_sampled": max((s.queued for s in samples), default=0),
        "max_events_queue": max((s.events_queue for s in samples), default=0),
        "max_dispatch_queue": max((s.dispatch_queue for s in samples), default=0),
        "max_runs_queue": max((s.runs_queue for s in samples), default=0),
        **timing_figures(config, emitted, runs, executions, samples),
        **overhead_figures(config, runs, executions),
        **execution_checks(runs, executions),
    }


def emitting_figures(config: Config, emitted: Emitted) -> dict[str, Any]:
    rate = emitted.accepted / emitted.seconds if emitted.seconds > 0 else 0.0
    return {
        "events_sent": config.events,
        "events_accepted": emitted.accepted,
        "emit_errors": dict(emitted.errors),
        "emit_seconds": round(emitted.seconds, 2),
        "emit_rate_per_s": round(rate, 1),
    }


def coalescing_figures(runs: list[RunRow]) -> dict[str, Any]:
    per_command = Counter(run.command_id for run in runs)
    return {
        "runs_created": len(runs),
        "runs_by_state": dict(Counter(run.state for run in runs)),
        "events_absorbed": sum(run.events for run in runs),
        "events_per_run": seconds_summary([run.events for run in runs]),
        "runs_per_project": {
            "min": min(per_command.values(), default=0),
            "max": max(per_command.values(), default=0),
            "projects_that_ran": len({r.command_id for r in runs if r.state == "succeeded"}),
        },
    }


def timing_figures(
    config: Config,
    emitted: Emitted,
    runs: list[RunRow],
    executions: list[Execution],
    samples: list[Sample],
) -> dict[str, Any]:
    """Makespan against its lower bound; (makespan - bound) / runs is the overhead per run."""
    since = emitted.first_sent
    started = [r.started for r in runs if r.started is not None]
    finished = [r.finished for r in runs if r.finished is not None]
    makespan = max(finished) - since if finished else math.nan
    most_of_one = max(Counter(run.command_id for run in runs).values(), default=0)
    parts = {
        "ceil_runs_over_cap_x_sleep": math.ceil(len(runs) / CAP) * config.sleep,
        "most_runs_of_one_command_x_sleep": most_of_one * config.sleep,
        "emit_plus_sleep": round(emitted.seconds + config.sleep, 2),
    }
    bound = max(parts.values())
    backlog = [s.at for s in samples if s.events_queue > 0]
    busy = sum(e.end - e.start for e in executions)
    starved = starved_slots(samples)
    return {
        "events_handled_per_s_by_runs_running": handling_rates(samples),
        "first_run_started_s": round(min(started) - since, 2) if started else None,
        "events_queue_drained_s": round(max(backlog) - since, 2) if backlog else 0.0,
        "makespan_s": round(makespan, 2),
        "ideal_makespan_s": round(bound, 2),
        "ideal_parts_s": parts,
        "overhead_per_run_s": round((makespan - bound) / len(runs), 3) if runs else None,
        "runs_per_s": round(len(runs) / makespan, 3) if makespan > 0 else None,
        "slot_utilisation": round(busy / (CAP * makespan), 3) if makespan > 0 else None,
        "idle_slot_seconds_with_work_waiting": round(starved[0], 1),
        "seconds_with_idle_slot_and_work_waiting": round(starved[1], 1),
    }


def handling_rates(samples: Sequence[Sample]) -> dict[str, float | None]:
    """Events handled a second (growth of the runs' `events`) while N runs were running:
    flat if running runs take nothing from the processes that handle events."""
    buckets = {"0-4": (0, 4), "5-9": (5, 9), "10-14": (10, 14), "15": (15, CAP)}
    handled = dict.fromkeys(buckets, 0)
    seconds = dict.fromkeys(buckets, 0.0)
    for sample, following in itertools.pairwise(samples):
        if sample.events_queue == 0:
            continue  # nothing waiting to be handled: the rate would say nothing
        for name, (low, high) in buckets.items():
            if low <= sample.running <= high:
                handled[name] += following.absorbed - sample.absorbed
                seconds[name] += following.at - sample.at
    return {n: round(handled[n] / seconds[n], 1) if seconds[n] > 1 else None for n in buckets}


def starved_slots(samples: Sequence[Sample]) -> tuple[float, float]:
    """Between samples: slots free while dispatchable runs waited (slot-seconds), and the
    time during which at least one slot was free and a run could have taken it."""
    slot_seconds = seconds = 0.0
    for sample, following in itertools.pairwise(samples):
        idle = min(CAP - sample.running, sample.dispatchable)
        if idle > 0:
            slot_seconds += idle * (following.at - sample.at)
            seconds += following.at - sample.at
    return slot_seconds, seconds


def overhead_figures(
    config: Config, runs: list[RunRow], executions: list[Execution]
) -> dict[str, Any]:
    by_run = {run.id: run for run in runs}
    starts, ends = [], []
    for execution in executions:
        run = by_run[execution.run_id]
        if run.started is not None and run.finished is not None:
            starts.append(execution.start - run.started)
            ends.append(run.finished - execution.end)
    ended = [(r.started, r.finished, r.created) for r in runs if r.started and r.finished]
    return {
        "executor_start_s": seconds_summary(starts),
        "executor_end_s": seconds_summary(ends),
        "slot_held_beyond_sleep_s": seconds_summary(
            [finish - start - config.sleep for start, finish, _ in ended]
        ),
        "dispatch_latency_s": seconds_summary(dispatch_latencies(runs)),
        "queue_wait_s": seconds_summary([start - created for start, _, created in ended]),
    }


def same_command_overlaps(
    runs: list[RunRow], intervals: dict[int, tuple[float, float]]
) -> dict[str, Any]:
    """Runs of one command (concurrency 1) whose interval begins before the previous one's
    ends: the number of such pairs and the largest overlap, in seconds."""
    by_command: dict[int, list[tuple[float, float]]] = {}
    for run in runs:
        if run.id in intervals:
            by_command.setdefault(run.command_id, []).append(intervals[run.id])
    overlaps = []
    for spans in by_command.values():
        spans.sort()
        overlaps += [
            prev[1] - nxt[0] for prev, nxt in itertools.pairwise(spans) if nxt[0] < prev[1]
        ]
    return {"pairs": len(overlaps), "largest_s": round(max(overlaps, default=0.0), 3)}


def execution_checks(runs: list[RunRow], executions: list[Execution]) -> dict[str, Any]:
    executed = Counter(execution.run_id for execution in executions)
    rows = {r.id: (r.started, r.finished) for r in runs if r.started and r.finished}
    programs = {e.run_id: (e.start, e.end) for e in executions}
    return {
        "same_command_overlap_in_rows": same_command_overlaps(runs, rows),
        "same_command_overlap_of_programs": same_command_overlaps(runs, programs),
        "programs_executed": len(executions),
        "runs_executed_twice": sorted(run_id for run_id, n in executed.items() if n > 1),
        "succeeded_without_execution": sorted(
            r.id for r in runs if r.state == "succeeded" and r.id not in executed
        ),
        "runs_with_retries": sorted(r.id for r in runs if r.attempt > 1),
        "errors": Counter(r.error[:200] for r in runs if r.error).most_common(10),
    }


def verdicts(config: Config, results: dict[str, Any]) -> dict[str, str]:
    def verdict(passed: bool) -> str:
        return "PASS" if passed else "FAIL"

    succeeded = results["runs_by_state"].get("succeeded", 0)
    rows_overlap = results["same_command_overlap_in_rows"]["pairs"]
    return {
        f"max running sampled <= {CAP}": verdict(results["max_running_sampled"] <= CAP),
        f"max overlapping programs <= {CAP}": verdict(results["max_overlap_programs"] <= CAP),
        f"rows' started_at..finished_at never show more than {CAP} running": verdict(
            results["max_running_db_intervals"] <= CAP
        ),
        "rows never show two runs of one command at once": verdict(rows_overlap == 0),
        "every event absorbed by a run": verdict(results["events_absorbed"] == config.events),
        "every run succeeded": verdict(succeeded == results["runs_created"]),
        "every project ran": verdict(
            results["runs_per_project"]["projects_that_ran"] == config.projects
        ),
        "each run executed exactly once": verdict(
            not results["runs_executed_twice"]
            and not results["succeeded_without_execution"]
            and results["programs_executed"] == succeeded
        ),
    }


# --- the hand-written limit ----------------------------------------------------------------------

LIMIT_PROGRAMS = {
    "bare python": "import os, sys, time; t = time.time(); time.sleep(float(sys.argv[1])); "
    "open(os.environ['BURST_LIMIT'], 'a').write(f'{sys.argv[2]} {t}\\n')",
    "python + django.setup()": "import django, os, sys, time; django.setup(); "
    "t = time.time(); time.sleep(float(sys.argv[1])); "
    "open(os.environ['BURST_LIMIT'], 'a').write(f'{sys.argv[2]} {t}\\n')",
}


def measure_limit(runs: int, sleep: float, home: Path) -> dict[str, Any]:
    """Programs CAP at a time, each in a new process started by a thread pool: what running
    them costs on this machine with no scheduler in the way. At most LIMIT_PROGRAMS_RUN of
    them (four rounds of the cap), so it is compared by throughput, programs a second."""
    contenders = {
        name: limit_contender(code, runs, sleep, home / f"limit-{number}.txt")
        for number, (name, code) in enumerate(LIMIT_PROGRAMS.items())
    }
    return {"slots": CAP, "sleep": sleep, "contenders": contenders}


def limit_contender(code: str, runs: int, sleep: float, marks: Path) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    launched: dict[int, float] = {}
    env = {**os.environ, "BURST_LIMIT": str(marks)}

    def one(index: int) -> None:
        launched[index] = time.time()
        argv = [sys.executable, "-c", code, str(sleep), str(index)]
        subprocess.run(argv, check=True, env=env)

    began = time.time()
    with ThreadPoolExecutor(CAP) as pool:
        list(pool.map(one, range(runs)))
    makespan = time.time() - began
    marked = (line.split() for line in marks.read_text().splitlines())
    starts = [float(at) - launched[int(index)] for index, at in marked]
    return {
        "programs": runs,
        "makespan_s": round(makespan, 2),
        "programs_per_s": round(runs / makespan, 3),
        "start_s": seconds_summary(starts),
    }


# --- report ------------------------------------------------------------------------------------


def print_report(config: Config, results: dict[str, Any], checks: dict[str, str]) -> None:
    def line(label: str, value: Any) -> None:
        print(f"  {label:<52} {value}")

    print(
        f"\n{config.events:,} events, {config.projects} projects, sleep {config.sleep} s, cap "
        f"{CAP}, {WORKERS} workers x ({TASK_PROCESSES} task processes + {RUN_SLOTS} run slots), "
        f"emitted via {config.emit}"
    )
    line("queues: handle_event / dispatch_runs / execute_run", _queues(results))
    line("events accepted / emit seconds / rate", _emit_line(results))
    line("runs created (after coalescing)", f"{results['runs_created']:,}")
    line("runs by state", results["runs_by_state"])
    line("events absorbed (sum of Run.events)", f"{results['events_absorbed']:,}")
    line("runs per project (min / max)", _per_project(results))
    line("max running, sampled every 50 ms", _of_samples(results))
    line("max running, rows' started..finished intervals", results["max_running_db_intervals"])
    line("max overlapping programs (timestamps file)", results["max_overlap_programs"])
    line("first event -> first run started (s)", results["first_run_started_s"])
    line("first event -> events' queue empty for good (s)", results["events_queue_drained_s"])
    line("first event -> all finished (s)", results["makespan_s"])
    line("ideal makespan, lower bound (s)", f"{results['ideal_makespan_s']} {_parts(results)}")
    line("scheduler overhead per run (s)", results["overhead_per_run_s"])
    line("slot utilisation (program time / 15 x makespan)", results["slot_utilisation"])
    line("time a slot was idle while a run could start (s)", _starved(results))
    for key in ("executor_start_s", "executor_end_s", "dispatch_latency_s", "queue_wait_s"):
        line(f"{key} (median / p95 / max)", _summary(results[key]))
    line("same-command overlaps: rows / programs", _overlaps(results))
    line("runs per worker", results["runs_per_worker"])
    line("warnings and errors in the logs", len(results["log_problems"]))
    line("events handled per s, by runs running", results["events_handled_per_s_by_runs_running"])
    limit = results.get("limit")
    if limit:
        line("burst: runs finished per s (runs / makespan)", results["runs_per_s"])
        for name, figures in limit["contenders"].items():
            line(f"limit: {name}", _limit_line(figures, results["runs_per_s"]))
    for check, verdict in checks.items():
        print(f"  {verdict}  {check}")


def _queues(results: dict[str, Any]) -> str:
    return " / ".join(results["queues"].values())


def _emit_line(results: dict[str, Any]) -> str:
    return (
        f"{results['events_accepted']:,} / {results['emit_seconds']} s / "
        f"{results['emit_rate_per_s']}/s {results['emit_errors'] or ''}"
    )


def _limit_line(figures: dict[str, Any], burst_rate: float) -> str:
    return (
        f"{figures['programs_per_s']} programs/s ({figures['programs']} in "
        f"{figures['makespan_s']} s, start {figures['start_s']['median']} s median); "
        f"burst's runs/s = {burst_rate / figures['programs_per_s']:.2f} x this"
    )


def _starved(results: dict[str, Any]) -> str:
    return (
        f"{results['seconds_with_idle_slot_and_work_waiting']} "
        f"({results['idle_slot_seconds_with_work_waiting']} slot-seconds)"
    )


def _overlaps(results: dict[str, Any]) -> str:
    rows, programs = (results[f"same_command_overlap_{k}"] for k in ("in_rows", "of_programs"))
    return f"{rows['pairs']} (up to {rows['largest_s']} s) / {programs['pairs']}"


def _per_project(results: dict[str, Any]) -> str:
    spread = results["runs_per_project"]
    return f"{spread['min']} / {spread['max']} ({spread['projects_that_ran']} projects ran)"


def _of_samples(results: dict[str, Any]) -> str:
    return f"{results['max_running_sampled']} ({results['samples']:,} samples)"


def _parts(results: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k} {v}" for k, v in results["ideal_parts_s"].items()) + ")"


def _summary(summary: dict[str, Any]) -> str:
    return f"{summary['median']} / {summary['p95']} / {summary['max']} (n={summary['n']})"


def load_averages() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# --- main --------------------------------------------------------------------------------------


def run(config: Config, home: Path) -> dict[str, Any]:
    timestamps = home / "timestamps.txt"
    os.environ["BURST_TIMESTAMPS"] = str(timestamps)
    token = create_projects(config)
    queues = routed_queues()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes += start_workers(home, queues.all)
        base_url = ""
        if config.emit == "api":
            server, base_url = start_server(home)
            processes.append(server)
        wait_for_workers()
        load_before = load_averages()
        with sampling(queues) as sampler:
            if config.emit == "api":
                emitted = emit_over_api(base_url, token, config)
            else:
                emitted = emit_to_broker(config, queues.events)
            print(f"emitted {emitted.accepted:,} events in {emitted.seconds:.1f} s")
            try:
                done_at = wait_until_done(sampler, config, emitted.first_sent)
            except TimeoutError:
                print(stuck_evidence(home))
                raise
        samples = sampler.samples
        load_after = load_averages()
        owners = node_processes(processes[:WORKERS])
    finally:
        stop_all(processes, home)
    runs = load_runs()
    results = analyse(config, emitted, runs, load_executions(timestamps), samples)
    results["queues"] = asdict(queues)
    results["runs_per_worker"] = runs_per_worker(runs, owners)
    results["limit"] = measure_limit(min(len(runs), LIMIT_PROGRAMS_RUN), config.sleep, home)
    results["limit"]["load_average_after"] = load_averages()
    results["timeline"] = timeline(samples, emitted.first_sent)
    results["done_detected_s"] = round(done_at - emitted.first_sent, 2)
    results["log_problems"] = log_problems(home)[:40]
    return {"load_before": load_before, "load_after": load_after, "results": results}


def stuck_evidence(home: Path) -> str:
    from modelyard.jobs.models import Run

    states = dict(Counter(Run.objects.values_list("state", flat=True)))
    lengths = {q: redis.Redis.from_url(BROKER_URL).llen(q) for q in routed_queues().all}
    logs = "\n".join(f"--- {log.name}\n{tail(log)}" for log in sorted(home.glob("*.log")))
    return f"runs by state {states}; broker queues {lengths}\n{logs}"


def main() -> None:
    config = parse_args()
    environment(config)
    flush_broker()
    stamp = {**common.run_stamp(), "load_average_at_start": load_averages()}
    home = common.start_django(DATABASE)
    try:
        measured = run(config, home)
        checks = verdicts(config, measured["results"])
        print_report(config, measured["results"], checks)
        common.write_results(
            config.name,
            {
                "run": {
                    **stamp,
                    "load_average_before_burst": measured["load_before"],
                    "load_average_after_burst": measured["load_after"],
                },
                "config": {
                    **asdict(config),
                    "cap": CAP,
                    "workers": WORKERS,
                    "task_processes_per_worker": TASK_PROCESSES,
                    "run_slots_per_worker": RUN_SLOTS,
                    "server": f"gunicorn {SERVER_PROCESSES} processes x {SERVER_THREADS} threads"
                    if config.emit == "api"
                    else None,
                    "clients": CLIENTS if config.emit == "api" else None,
                    "heartbeat_seconds": 1,
                    "sample_seconds": SAMPLE_SECONDS,
                },
                "results": measured["results"],
                "verdicts": checks,
            },
        )
    finally:
        flush_broker()
        common.finish(DATABASE, home, config.keep)


if __name__ == "__main__":
    main()
