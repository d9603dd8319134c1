"""Running the prediction server: load every model first, then fork the workers.

Models load in the parent process before any worker exists, so N workers share one copy
of each model's memory (copy-on-write after fork) instead of loading N copies, and a
worker answers its first request warm. One worker runs uvicorn in this process; several
run under gunicorn's arbiter (restarts crashed workers, graceful shutdown) with uvicorn
workers, all accepting from one listening socket.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    models: list[str]
    alias: str = "production"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    poll_seconds: float = 5.0
    memory_budget_mb: float = 0.0
    # Serve every model with the alias (of `team`, else of all teams) instead of `models`.
    follow_registry: bool = False
    team: str | None = None


def prepare_metrics_directory(workers: int) -> None:
    """Multiprocess metrics need their folder before prometheus_client is first imported."""
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="modelyard-metrics-")


def build_app(options: ServeOptions, recorder: Any = None) -> Any:
    from django.db import connections

    from modelyard.serving.app import App
    from modelyard.serving.fleet import Fleet

    budget = int(options.memory_budget_mb * 2**20)
    if options.follow_registry:
        fleet = Fleet.following_registry(options.alias, options.team, options.poll_seconds, budget)
    else:
        fleet = Fleet.from_refs(options.models, options.alias, options.poll_seconds, budget)
    fleet.refresh()
    for slot in fleet.slots.values():
        if slot.current is None:
            log.error("%s is not ready: %s", slot.name, slot.error)
    # Workers must open database connections of their own, never share the parent's.
    connections.close_all()
    return App(fleet, recorder=recorder)


def run(options: ServeOptions, app: Any) -> None:
    if options.workers <= 1:
        _run_uvicorn(options, app)
    else:
        _run_gunicorn(options, app)


def _run_uvicorn(options: ServeOptions, app: Any) -> None:
    import uvicorn

    from modelyard.serving.workers import NoDelayHttpToolsProtocol

    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        loop="uvloop",
        http=NoDelayHttpToolsProtocol,
        access_log=False,
        lifespan="on",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    server.run(sockets=[_listen(options.host, options.port)])


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_gunicorn(options: ServeOptions, app: Any) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{options.host}:{options.port}")
            self.cfg.set("workers", options.workers)
            self.cfg.set("worker_class", "modelyard.serving.workers.ServingWorker")
            self.cfg.set("backlog", 2048)
            self.cfg.set("graceful_timeout", 30)
            self.cfg.set("accesslog", None)

        def load(self) -> Any:
            return app

    Server().run()
