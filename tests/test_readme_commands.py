"""Runnable docs: every ```bash block of the README runs as written against `modelyard up`.

A block that cannot run on the demo (placeholders for your own files, the commands that
start the platform) says so on the line before it: `<!-- readme-test: skip (why) -->`.
Every other block runs with bash (`set -euo pipefail`, so any command failing fails it)
from the folder `up` ran in, signed in as `up` signs its admin in; only the ports are the
test's own, and curl fails on an HTTP error instead of printing it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP = re.compile(r"^<!-- readme-test: skip \((?P<why>[^)]+)\) -->$")
READY_END = "Press Ctrl-C to stop."
PRELUDE = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    text: str
    skip_reason: str | None


def bash_blocks(markdown: str) -> list[Block]:
    lines, blocks = markdown.splitlines(), []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```bash":
            index += 1
            continue
        start = index
        end = lines.index("```", start + 1)
        before = next((line for line in reversed(lines[:start]) if line.strip()), "")
        marker = SKIP.match(before.strip())
        body = "\n".join(lines[start + 1 : end])
        blocks.append(Block(start + 1, body, marker["why"] if marker else None))
        index = end + 1
    return blocks


def test_every_block_runs_or_says_why_not() -> None:
    text = README.read_text()
    blocks = bash_blocks(text)
    markers = [line for line in text.splitlines() if line.startswith("<!-- readme-test")]
    # A marker that does not sit right before a bash block (mistyped, or left behind) fails.
    assert len(markers) == sum(block.skip_reason is not None for block in blocks), markers
    assert all(SKIP.match(marker.strip()) for marker in markers), markers
    assert len([block for block in blocks if block.skip_reason is None]) >= 2


def test_blocks_are_found_with_their_markers() -> None:
    sample = "x\n```bash\na\n```\n<!-- readme-test: skip (needs S3) -->\n\n```bash\nb\n```\n"
    assert bash_blocks(sample) == [Block(2, "a", None), Block(7, "b", "needs S3")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Up:
    folder: Path
    port: int
    serve_port: int
    env: dict[str, str]


@pytest.fixture
def up(tmp_path: Path, own_config_folder: Path) -> Iterator[Up]:
    """`modelyard up` on a fresh home in tmp_path, the demo seeded and served."""
    port, serve_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "DJANGO_"))}
    env["MODELYARD_HOME"] = str(tmp_path / ".modelyard")
    # `modelyard` on PATH is this checkout's, as after `make up`.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log_path = tmp_path / "up.log"
    argv = ["modelyard", "up", "--port", str(port), "--serve-port", str(serve_port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
    try:
        _wait_for(lambda: READY_END in log_path.read_text(errors="replace"), process, log_path)
        ready = f"http://127.0.0.1:{serve_port}/v2/health/ready"
        _wait_for(lambda: _answers(ready), process, log_path)
        yield Up(tmp_path, port, serve_port, env)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(done: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    # `up` seeds the demo (it trains and gates three models) before it starts: about 40 s on
    # a quiet machine, several times that on a loaded one.
    deadline = time.monotonic() + 300
    while not done():
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def as_run_here(block: Block, up: Up) -> str:
    """The block with the README's ports replaced by this test's."""
    text = block.text.replace("localhost:8080", f"127.0.0.1:{up.serve_port}")
    text = text.replace("127.0.0.1:8080", f"127.0.0.1:{up.serve_port}")
    return text.replace("127.0.0.1:8000", f"127.0.0.1:{up.port}")


@pytest.mark.integration
def test_the_readme_commands_run_on_the_demo(up: Up) -> None:
    runnable = [block for block in bash_blocks(README.read_text()) if block.skip_reason is None]
    failures = []
    for block in runnable:
        done = subprocess.run(
            ["bash", "-c", PRELUDE + as_run_here(block, up)],
            cwd=up.folder,
            env=up.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            failures.append(
                f"README.md line {block.line}: exit {done.returncode}\n{block.text}\n"
                f"--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}"
            )
    assert not failures, "\n\n".join(failures)
