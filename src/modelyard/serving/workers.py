"""The uvicorn protocol and gunicorn worker the prediction server runs on.

Every accepted connection gets TCP_NODELAY: without it a keep-alive client's small
requests wait for delayed ACKs (~40 ms each), which uvicorn's pre-bound sockets were seen
to do here (../shared/notes/serving-measurements.md, uvicorn issue #3149).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


class ServingWorker(UvicornWorker):  # type: ignore[misc]
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "uvloop",
        "http": NoDelayHttpToolsProtocol,
        "lifespan": "on",
        "access_log": False,
    }
