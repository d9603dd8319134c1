"""The sandboxed side: loads one model and answers requests about it on a pipe.

Started by `sandbox.py` as `python -I -c …` in a private folder holding only the model's
files, with a scrubbed environment. It limits itself before anything else runs and, when
started as root, becomes the unprivileged user before it reads the model's files: after
importing the libraries models need, because the interpreter may live where that user
cannot read (a Python under /root). Then it serves frames (`wire.py`) on its stdin and
stdout until the parent closes the pipe:

- `load` {directory, flavor, prefer_onnx}, body: example rows (Arrow) or nothing
  -> {flavor, n_features, batchable};
- `predict`, body: rows (Arrow, one column per input) -> body: the outputs (Arrow);
- `convert` {directory, flavor}, body: example rows or nothing
  -> {converted: bool}, body: the ONNX model's bytes.

Whatever the model's code raises comes back as {"error": "…"}; it never ends this loop.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import resource
import sys
from pathlib import Path
from typing import Any

_MIB = 1 << 20
# Imported before becoming the unprivileged user, with what they import in turn; a model
# needing more of the standard library finds it where Python is installed for all users.
_ONNX = ("onnxruntime",)
_ESTIMATORS = (
    "pickle",
    "joblib",
    "yaml",
    "onnx",
    "skl2onnx",
    "sklearn.base",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.tree",
    # MLflow's default format for scikit-learn models (it imports urllib, among others).
    "skops.io",
    "zipfile",
    "encodings.cp437",  # zipfile's codec for names, imported lazily on first read
)


def main(memory_mb: int, cpu_seconds: int, uid: int, gid: int) -> None:
    _limit(memory_mb, cpu_seconds)
    from modelyard.loading import wire

    channel = wire.Channel(*_protocol_descriptors(), deadlines=False)
    state: dict[str, Any] = {"user": (uid, gid)}
    while True:
        try:
            header, body = channel.receive()
        except wire.ChannelClosed:
            return
        try:
            reply, payload = _handle(header, body, state)
        except Exception as error:  # the model's code: report it, keep answering
            reply, payload = {"error": _described(error)[:4000]}, b""
        channel.send(reply, payload)


def _described(error: Exception) -> str:
    from modelyard.loading.errors import ModelLoadError

    # modelyard's own load errors already say what to fix; anything else needs its class.
    return str(error) if isinstance(error, ModelLoadError) else f"{type(error).__name__}: {error}"


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    # Hard limits too: the model's code cannot raise them again.
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * _MIB, memory_mb * _MIB))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cpu_seconds > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def _become_user(state: dict[str, Any], flavor: str) -> None:
    """Once, before the first model file is read: drop root for the unprivileged user."""
    uid, gid = state.pop("user", (-1, -1))
    if uid < 0:
        return
    for name in _ONNX if flavor == "onnx" else _ONNX + _ESTIMATORS:
        with contextlib.suppress(ImportError):  # not installed: a model needing it says so
            importlib.import_module(name)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)  # as root this sets the real, effective and saved ids: no way back


def _protocol_descriptors() -> tuple[int, int]:
    """The pipe, moved off fds 0 and 1: whatever the model prints goes to stderr instead."""
    reading, writing = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    return reading, writing


def _handle(header: dict[str, Any], body: memoryview, state: dict[str, Any]) -> tuple[Any, Any]:
    from modelyard.loading import outputs, wire
    from modelyard.loading.predictor import rows_of

    operation = header.get("op")
    rows = rows_of(wire.body_batch(body)) if body.nbytes else None
    if operation == "predict":
        return {}, wire.batch_body(outputs.to_batch(state["predictor"].predict(rows)))
    example = rows
    if operation in ("load", "convert"):
        _become_user(state, str(header.get("flavor", "")))
    if operation == "load":
        return _load(header, example, state), b""
    if operation == "convert":
        onnx_bytes = _convert(header, example)
        return {"converted": onnx_bytes is not None}, onnx_bytes or b""
    raise ValueError(f"Unknown operation {operation!r}.")


def _load(header: dict[str, Any], example: Any, state: dict[str, Any]) -> dict[str, Any]:
    from modelyard.loading.load import load_predictor

    predictor = load_predictor(
        Path(header["directory"]).resolve(),
        header["flavor"],
        example=example,
        prefer_onnx=bool(header.get("prefer_onnx", True)),
    )
    state["predictor"] = predictor
    return {
        "flavor": predictor.flavor,
        "n_features": predictor.n_features,
        "batchable": predictor.batchable,
    }


def _convert(header: dict[str, Any], example: Any) -> bytes | None:
    from modelyard.loading.conversion import convert_to_onnx
    from modelyard.loading.load import load_predictor
    from modelyard.loading.predictor import SklearnPredictor

    native = load_predictor(
        Path(header["directory"]).resolve(), header["flavor"], example=example, prefer_onnx=False
    )
    if not isinstance(native, SklearnPredictor) or native.n_features is None:
        return None
    return convert_to_onnx(native.estimator, native.n_features, example)


if __name__ == "__main__":
    main(*(int(argument) for argument in sys.argv[1:5]))
