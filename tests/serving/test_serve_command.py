"""`modelyard serve` as a real process: preloaded workers under gunicorn, metrics summed
over workers, and a promotion announced over Redis swapping every worker quickly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings

from modelyard.deployment.services import promote
from tests.fixtures.worker import database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
BODY = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": [1.0] * 30}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    home: Path, redis_url: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "modelyard.settings",
        "MODELYARD_HOME": str(home),
        "MODELYARD_DATABASE_URL": database_url(),
        "MODELYARD_REDIS_URL": redis_url,
        # As every process of one deployment: the artifact root is a store only if shared.
        "MODELYARD_ARTIFACT_ROOT": django_settings.ARTIFACT_ROOT,
        # And the online feature store: the tests' processes write the database's tiles.
        "MODELYARD_FEATURES_ONLINE_STORE": django_settings.FEATURES_ONLINE_STORE,
        **(env or {}),
    }
    command = [sys.executable, "-m", "modelyard.cli.main", "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "modelyard serve did not become ready"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def fresh(url: str) -> httpx.Response:
    """A prediction on a new connection, so that requests spread over the workers."""
    return httpx.post(f"{url}/v2/models/churn/infer", json=BODY, headers={"Connection": "close"})


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_workers_share_preloaded_models_and_swap_on_an_announced_promotion(
    teams, gated, production, register_model, estimators, clean_redis, settings, tmp_path
) -> None:
    settings.REDIS_URL = clean_redis  # so the promotion below is announced
    production(estimators["weak"])
    candidate = register_model(estimators["good"])
    # Polling every 60 s: a swap within seconds can only come from the Redis announcement.
    with (
        serve(
            tmp_path, clean_redis, "--models", "red/churn", "--workers", "2", "--poll-seconds", "60"
        ) as url,
        httpx.Client(base_url=url) as client,
    ):
        before = {fresh(url).json()["model_version"] for _ in range(20)}
        metrics = client.get("/metrics").text
        promote(teams["alice"], gated, candidate, "production")
        deadline = time.monotonic() + 20
        while True:
            after = [fresh(url) for _ in range(20)]
            if {r.json()["model_version"] for r in after} == {"2"}:
                break
            assert time.monotonic() < deadline, "the workers did not swap to version 2"
            time.sleep(0.2)

    assert before == {"1"}
    assert 'modelyard_requests_total{code="200",model="churn",version="1"} 20.0' in metrics
    assert all(r.status_code == 200 for r in after)
