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


READY_END = "Press Ctrl-C to stop."


def test_up_serves_the_demo_catalog_and_stops_on_ctrl_c(
    tmp_path: Path, own_config_folder: Path
) -> None:
    port, serve_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "DJANGO_"))}
    env["MODELYARD_HOME"] = str(tmp_path / ".modelyard")
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
        # A wait, not a measurement: the seed trains and promotes two demo models, and this
        # machine may be shared.
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and READY_END not in _read(tmp_path / "up.log"):
            assert process.poll() is None, _read(tmp_path / "up.log")
            time.sleep(0.5)
        output = _read(tmp_path / "up.log")
        assert f"modelyard is up at http://127.0.0.1:{port}" in output
        # The ready block is the last thing shown: the processes' banners went to their logs.
        assert output.rstrip().endswith(READY_END)
        assert "celery@" not in output
        logs = tmp_path / ".modelyard" / "logs"
        assert f"logs:      {logs}/" in output
        assert {"web.log", "tasks.log", "runs.log", "beat.log", "serve.log"} <= {
            path.name for path in logs.iterdir()
        }
        password = (tmp_path / ".modelyard" / "admin_password").read_text().strip()
        assert (
            f"password {password} (saved to {tmp_path / '.modelyard' / 'admin_password'})" in output
        )
        # Signed in from any folder: the token is saved for this server in the config folder.
        logins = json.loads((own_config_folder / "modelyard" / "logins.json").read_text())
        token = logins["tokens"][f"http://127.0.0.1:{port}"]
        assert logins["serving"] == f"http://127.0.0.1:{serve_port}"  # for `modelyard predict`
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
        assert f"every model with a production alias at http://127.0.0.1:{serve_port}" in output
        assert _predict(serve_port)["model_version"] == "3"
        prediction, metadata, by_id = _readme_curls(tmp_path, serve_port)
        assert {output["name"] for output in prediction["outputs"]} == {"label", "probability"}
        assert [(o["name"], o["datatype"]) for o in metadata["outputs"]] == [
            ("label", "INT64"),
            ("probability", "FP64"),
        ]
        # The demo model that predicts by user id, from the features the demo's events gave.
        assert (by_id["model"], by_id["version"]) == ("user-churn", 1)
        (used,) = by_id["features"]
        assert set(used) == {
            "user_activity:visits_7d",
            "user_activity:spend_7d",
            "user_activity:visits_30d",
            "big_spends:big_purchases_30d",
        }
        assert used["user_activity:visits_30d"] > 0  # user 42 visits often
        churn = get_json(f"{base}/featuresets/demo/user_activity/versions/1", token)
        assert [edge["ref"] for edge in churn["downstream"]] == ["demo/user-churn:1"]
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


def _readme_curls(folder: Path, serve_port: int) -> list[dict]:
    """The README's curl commands, run as written from the folder `up` ran in (only the port
    is this test's)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    commands = [
        line
        for line in readme.splitlines()
        if line.startswith(("curl -s localhost:8080", "curl -s 'localhost:8080"))
    ]
    assert len(commands) == 3, commands
    answers = []
    for command in commands:
        command = command.replace("localhost:8080", f"127.0.0.1:{serve_port}")
        done = subprocess.run(
            ["bash", "-c", command], cwd=folder, capture_output=True, text=True, check=True
        )
        answers.append(json.loads(done.stdout))
    return answers


def _read(path: Path) -> str:
    return path.read_text(errors="replace")
