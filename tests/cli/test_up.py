"""`modelyard up` on a fresh home: migrates, seeds the demo, serves it, stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


def test_up_serves_the_demo_catalog_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, serve_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "DJANGO_"))}
    env["MODELYARD_HOME"] = str(tmp_path / "home")
    log = (tmp_path / "up.log").open("w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelyard.cli.main",
            "up",
            "--port",
            str(port),
            "--serve-port",
            str(serve_port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        token_file = tmp_path / "home" / "token"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "modelyard is up" not in _read(tmp_path / "up.log"):
            assert process.poll() is None, _read(tmp_path / "up.log")
            time.sleep(0.5)
        output = _read(tmp_path / "up.log")
        assert f"modelyard is up at http://127.0.0.1:{port}" in output
        token = token_file.read_text().strip()
        assert token in output
        base = f"http://127.0.0.1:{port}/api/v1"
        model = get_json(f"{base}/models/demo/cancer-classifier", token)
        assert model["latest_version"] == 3
        assert set(model["aliases"]) == {"production", "staging"}
        lineage = get_json(f"{base}/models/demo/cancer-classifier/versions/1", token)["upstream"]
        assert {edge["ref"] for edge in lineage} == {
            "demo/breast-cancer:1",
            "demo/cancer-features:1",
        }
        assert f"demo/cancer-classifier at http://127.0.0.1:{serve_port}" in output
        assert _predict(serve_port)["model_version"] == "3"
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0


def _predict(port: int) -> dict:
    url = f"http://127.0.0.1:{port}/v2/models/cancer-classifier/infer"
    v2 = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": [1.0] * 30}]}
    deadline = time.monotonic() + 60
    while True:
        try:
            request = urllib.request.Request(url, data=json.dumps(v2).encode())
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return json.load(response)
        except OSError:
            assert time.monotonic() < deadline, "the prediction server did not answer"
            time.sleep(0.5)


def _read(path: Path) -> str:
    return path.read_text(errors="replace")
