"""A prediction server for tests: the real app on uvicorn in a thread, or called directly.

`running(fleet)` serves over HTTP on a free port (lifespan and watcher included), which is
what the hot-swap, failed-load and tritonclient tests need; `call(app, …)` drives the ASGI
app in-process, fast enough for property-based fuzzing.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from modelyard.deployment.services import promote
from modelyard.registry.models import Asset
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
from modelyard.serving.services import configure_serving
from modelyard.serving.workers import NoDelayHttpToolsProtocol


@contextmanager
def running(app: App) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="on", http=NoDelayHttpToolsProtocol, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def call(
    app: App, method: str, path: str, body: bytes = b"", headers: Any = (), query: bytes = b""
) -> tuple[int, Any]:
    """One request straight into the ASGI app; returns (status, body bytes)."""
    status, answer, _ = call_with_headers(app, method, path, body, headers, query)
    return status, answer


def call_with_headers(
    app: App, method: str, path: str, body: bytes = b"", headers: Any = (), query: bytes = b""
) -> tuple[int, Any, dict[bytes, bytes]]:
    """`call`, also returning the response's headers."""

    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": list(headers),
            "query_string": query,
        }
        await app(scope, receive, send)
        return sent

    messages = asyncio.run(run())
    return messages[0]["status"], messages[1]["body"], dict(messages[0]["headers"])


@pytest.fixture
def production(teams, gated, register_model, estimators) -> Callable[..., Any]:
    """Register a version and promote it to production; returns the version."""

    def make(estimator: Any = None, *, force: bool = False, **overrides: Any) -> Any:
        version = register_model(
            estimators["good"] if estimator is None else estimator, **overrides
        )
        reason = "test" if force else ""
        promote(teams["alice"], gated, version, "production", force=force, reason=reason)
        return version

    return make


@pytest.fixture
def fleet_of(gated: Asset) -> Callable[..., Fleet]:
    def make(poll_seconds: float = 0.1, max_batch_size: int | None = None) -> Fleet:
        if max_batch_size is not None:
            configure_serving("system:test", gated, max_batch_size=max_batch_size)
        fleet = Fleet.from_refs(["red/churn"], "production", poll_seconds)
        fleet.refresh()
        return fleet

    return make


@pytest.fixture(autouse=True)
def _write_access_records(request: pytest.FixtureRequest) -> Iterator[None]:
    """Predictions record uses in the process-wide buffer: write them while tables exist."""
    yield
    if "django_db" in {mark.name for mark in request.node.iter_markers()}:
        from modelyard.registry.access import tracker

        tracker().flush()
