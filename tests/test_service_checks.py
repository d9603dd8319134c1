"""A missing service stops the test run with its name and start command, never a skip."""

from __future__ import annotations

import socket

import pytest

from tests.fixtures.services import require


def test_unreachable_service_exits_with_instructions() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(pytest.exit.Exception) as stopped:
        require("Redis", f"redis://127.0.0.1:{port}/0", 6379)
    assert f"Redis is not reachable at 127.0.0.1:{port}" in str(stopped.value)
    assert "redis-server --daemonize yes" in str(stopped.value)
    assert stopped.value.returncode == 3
