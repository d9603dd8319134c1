"""Frames on a pipe between modelyard and a sandboxed model: a JSON header and a body.

A frame is two lengths (4 bytes for the JSON header, 8 for the body), the header, and the
body: raw bytes (an ONNX model) or one Arrow IPC
stream holding one record batch (rows in, outputs out). Nothing here unpickles: the parent
reads what the child sends as data only.

The parent's side waits with a deadline, so a child that hangs is noticed, never waited
on forever; the child's side blocks.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import struct
import time
from typing import Any

import pyarrow as pa

_LENGTHS = struct.Struct(">IQ")
_MAX_HEADER = 1 << 20
_MAX_BODY = 1 << 34  # 16 GiB: far above a batch's outputs or an ONNX model
_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size: fewer wake-ups per batch
_F_SETPIPE_SZ = 1031


class ChannelClosed(EOFError):
    """The other side closed its end (the child ended)."""


def widen(fd: int) -> None:
    """Ask for a larger pipe buffer; the default (64 KiB) only costs more system calls."""
    import fcntl

    # Not Linux, or above pipe-max-size: the default buffer works, a little slower.
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)


def batch_body(batch: pa.RecordBatch) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def body_batch(body: memoryview) -> pa.RecordBatch:
    with pa.ipc.open_stream(pa.py_buffer(body)) as reader:
        return reader.read_next_batch()


class Channel:
    """One frame at a time each way, over a read and a write file descriptor."""

    def __init__(self, read_fd: int, write_fd: int, *, deadlines: bool) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self._deadlines = deadlines
        if deadlines:  # the parent: never block in a system call past the deadline
            os.set_blocking(read_fd, False)
            os.set_blocking(write_fd, False)

    def send(self, header: dict[str, Any], body: Any = b"", deadline: float | None = None) -> None:
        encoded = json.dumps(header).encode()
        view = memoryview(body).cast("B")
        self._write(_LENGTHS.pack(len(encoded), view.nbytes) + encoded, deadline)
        if view.nbytes:
            self._write(view, deadline)

    def receive(self, deadline: float | None = None) -> tuple[dict[str, Any], memoryview]:
        header_length, body_length = _LENGTHS.unpack(self._read(_LENGTHS.size, deadline))
        if header_length > _MAX_HEADER:
            raise ValueError(f"A frame header of {header_length} bytes: the stream is corrupt.")
        if body_length > _MAX_BODY:
            raise ValueError(f"A frame body of {body_length} bytes: more than any answer needs.")
        header = json.loads(bytes(self._read(header_length, deadline)))
        if not isinstance(header, dict):
            raise ValueError("A frame header that is not a JSON object: the stream is corrupt.")
        return header, self._read(body_length, deadline)

    def _read(self, size: int, deadline: float | None) -> memoryview:
        buffer = memoryview(bytearray(size))
        done = 0
        while done < size:
            self._wait(self.read_fd, select.POLLIN, deadline)
            try:
                count = os.readv(self.read_fd, [buffer[done:]])
            except BlockingIOError:
                continue
            if count == 0:
                raise ChannelClosed("the other side closed the pipe")
            done += count
        return buffer

    def _write(self, data: Any, deadline: float | None) -> None:
        view = memoryview(data).cast("B")
        while view.nbytes:
            self._wait(self.write_fd, select.POLLOUT, deadline)
            try:
                count = os.write(self.write_fd, view)
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise ChannelClosed("the other side closed the pipe") from None
            view = view[count:]

    def _wait(self, fd: int, event: int, deadline: float | None) -> None:
        if not self._deadlines:
            return  # a blocking descriptor: the system call itself waits
        poller = select.poll()
        poller.register(fd, event)
        if deadline is None:
            poller.poll()
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000):
            raise TimeoutError
