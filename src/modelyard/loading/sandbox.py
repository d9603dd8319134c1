"""Model code runs in a sandbox: a child process that holds none of modelyard's secrets.

Unpickling a model (joblib, pickle, cloudpickle, an MLflow loader) runs whatever code its
author put there. Everywhere outside the prediction server — the ONNX conversion after
registration, the promotion gate, the scoring engine's workers — a model is loaded only
in a child process (`sandbox_child.py`) that
- gets a scrubbed environment: an allow-list (locale, time zone), never the database,
  broker, Redis or mail URL, the secret key, tokens or cloud credentials;
- runs in a private temporary folder holding a copy of the model's files and nothing else;
- is limited in address space and CPU time (`resource.setrlimit`, set by the child before
  any model code runs) and by a wall-clock timeout on each request;
- runs as an unprivileged user (`MODELYARD_SANDBOX_USER`, default `nobody`) when modelyard
  runs as root, so it can write nowhere modelyard can (the child switches itself, before
  it reads the model's files).

Inputs (example rows, evaluation data, scoring batches) are read by the trusted parent and
sent over a pipe as Arrow; only results come back, as Arrow or bytes, read as data (never
unpickled). A failure comes back as a SandboxError naming the model and what failed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

import modelyard
from modelyard.loading import outputs, wire
from modelyard.loading.errors import SandboxError
from modelyard.loading.load import check_flavor, load_predictor
from modelyard.loading.predictor import Array, Predictor

# Passed on from modelyard's own environment; everything else is dropped.
_PASSED_ON = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
_STDERR_TAIL = 2000
_MODEL_FOLDER = "model"


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 4096
    timeout_seconds: float = 600.0
    user: str = "nobody"  # who the child runs as when modelyard runs as root
    cpu_seconds: int = 0  # 0: no CPU limit (a scoring worker's lifetime is the data's size)

    @classmethod
    def configured(cls, *, cpu_seconds: int | None = None) -> Limits:
        """The MODELYARD_SANDBOX_* settings; one-shot work also caps CPU at the timeout."""
        from modelyard import config

        timeout = config.sandbox_timeout_seconds()
        return cls(
            memory_mb=config.sandbox_memory_mb(),
            timeout_seconds=timeout,
            user=config.sandbox_user(),
            cpu_seconds=int(timeout) if cpu_seconds is None else cpu_seconds,
        )


class Sandbox:
    """One child process, its private folder, and the pipe to it."""

    def __init__(self, directory: Path, *, name: str, limits: Limits) -> None:
        self.name, self.limits = name, limits
        self._source = Path(directory)
        self._folder = Path(tempfile.mkdtemp(prefix="modelyard-sandbox-"))
        self._process: subprocess.Popen[bytes] | None = None
        try:
            shutil.copytree(directory, self._folder / _MODEL_FOLDER)
            account = _account(limits.user)
            if account is not None:
                _give(self._folder, account)
            # Closed in close(), with the process: it outlives this method.
            self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
            self._channel = self._start(_command(limits, account))
        except BaseException:
            self.close()
            raise

    def call(
        self, operation: str, header: dict[str, Any], body: Any = b""
    ) -> tuple[dict[str, Any], memoryview]:
        """Send one request and wait (up to the timeout) for its answer."""
        deadline = time.monotonic() + self.limits.timeout_seconds
        try:
            self._channel.send({"op": operation, **header}, body, deadline)
            reply, payload = self._channel.receive(deadline)
        except TimeoutError:
            self._kill()
            raise SandboxError(
                f"{self.name}: {operation} took longer than {self.limits.timeout_seconds:g} s "
                "(MODELYARD_SANDBOX_TIMEOUT_SECONDS); the model's process was stopped."
            ) from None
        except (wire.ChannelClosed, ValueError) as error:
            raise SandboxError(f"{self.name}: {operation} failed: {self._ended(error)}") from None
        if "error" in reply:
            raise SandboxError(f"{self.name}: {operation} failed: {self._explained(reply)}")
        return reply, payload

    def close(self) -> None:
        if self._process is not None:
            os.close(self._channel.write_fd)  # the child sees the end of its input and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            self._kill()  # and whatever the model's code started in its process group
            os.close(self._channel.read_fd)
            self._stderr.close()
            self._process = None
        shutil.rmtree(self._folder, ignore_errors=True)

    def _start(self, command: list[str]) -> wire.Channel:
        to_child, from_parent = os.pipe()
        from_child, to_parent = os.pipe()
        wire.widen(from_parent)
        wire.widen(to_parent)
        self._process = subprocess.Popen(
            command,
            stdin=to_child,
            stdout=to_parent,
            stderr=self._stderr,
            cwd=self._folder,
            env=_scrubbed_environment(self._folder),
            close_fds=True,
            start_new_session=True,  # its own process group: a timeout stops all of it
            umask=0o077,
        )
        os.close(to_child)
        os.close(to_parent)
        return wire.Channel(from_child, from_parent, deadlines=True)

    def _kill(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # it ended by itself meanwhile
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def _ended(self, error: Exception) -> str:
        assert self._process is not None
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
            code = self._process.returncode
        how = _exit_reason(code, self.limits)
        return f"the model's process {how} ({error}). {self._stderr_tail()}".strip()

    def _explained(self, reply: dict[str, Any]) -> str:
        text = str(reply["error"]).replace(str(self._folder / _MODEL_FOLDER), str(self._source))
        if "MemoryError" in text:
            text += (
                f" (the sandbox allows {self.limits.memory_mb} MB of address space: "
                "MODELYARD_SANDBOX_MEMORY_MB)"
            )
        return text

    def _stderr_tail(self) -> str:
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - _STDERR_TAIL))
        tail = self._stderr.read().decode(errors="replace").strip()
        return f"Its last output: {tail}" if tail else ""


class SandboxedPredictor(Predictor):
    """A model loaded in a sandbox; each prediction is a round trip over the pipe."""

    def __init__(
        self,
        directory: Path,
        flavor: str,
        *,
        name: str,
        limits: Limits,
        example: Array | None = None,
        prefer_onnx: bool = True,
    ) -> None:
        self.sandbox = Sandbox(directory, name=name, limits=limits)
        try:
            header = {"directory": _MODEL_FOLDER, "flavor": flavor, "prefer_onnx": prefer_onnx}
            reply, _ = self.sandbox.call("load", header, _rows_body(example))
        except BaseException:
            self.sandbox.close()
            raise
        # What the child says is data from untrusted code: only its expected types count.
        width = reply.get("n_features")
        self.flavor = str(reply.get("flavor"))
        self.n_features = width if isinstance(width, int) and width > 0 else None
        self.batchable = reply.get("batchable") is True

    def predict(self, rows: Array) -> dict[str, Array]:
        return self.predict_columns(outputs.rows_to_batch(rows))

    def predict_columns(self, columns: pa.RecordBatch) -> dict[str, Array]:
        # Sent as they are: the child stacks them into rows, so this side copies nothing.
        _, payload = self.sandbox.call("predict", {}, wire.batch_body(columns))
        answer = wire.body_batch(payload)
        if answer.num_rows != columns.num_rows:
            raise SandboxError(
                f"{self.sandbox.name}: predict gave {answer.num_rows} rows of outputs for "
                f"{columns.num_rows} rows of input; the model must give one per row."
            )
        return outputs.from_batch(answer)

    def close(self) -> None:
        self.sandbox.close()

    def __enter__(self) -> SandboxedPredictor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def load_untrusted(
    directory: Path, flavor: str, *, name: str, limits: Limits, prefer_onnx: bool = True
) -> Predictor:
    """A model whose code is not trusted, for repeated predictions (the scoring engine):
    an ONNX model runs no Python code, so onnxruntime loads it here, where predictions cost
    no pipe; any other flavor loads in a sandbox."""
    if check_flavor(flavor) == "onnx":
        return load_predictor(directory, "onnx")
    return SandboxedPredictor(directory, flavor, name=name, limits=limits, prefer_onnx=prefer_onnx)


def convert_in_sandbox(
    directory: Path, flavor: str, *, name: str, limits: Limits, example: Array | None = None
) -> bytes | None:
    """The model's checked ONNX conversion (None when there is no faithful one), made in a
    sandbox: unpickling the estimator to convert it runs its code."""
    sandbox = Sandbox(directory, name=name, limits=limits)
    try:
        header = {"directory": _MODEL_FOLDER, "flavor": flavor}
        reply, payload = sandbox.call("convert", header, _rows_body(example))
        return bytes(payload) if reply.get("converted") else None
    finally:
        sandbox.close()


def _rows_body(rows: Array | None) -> Any:
    return b"" if rows is None else wire.batch_body(outputs.rows_to_batch(rows))


def _command(limits: Limits, account: pwd.struct_passwd | None) -> list[str]:
    # -I: no PYTHON* variables, no user site, and not the working folder on sys.path (a
    # model file named numpy.py must not shadow numpy). modelyard is found where this
    # process found it.
    root = str(Path(modelyard.__file__).resolve().parent.parent)
    uid, gid = (account.pw_uid, account.pw_gid) if account else (-1, -1)
    code = (
        f"import sys; sys.path.insert(0, {root!r}); "
        "from modelyard.loading.sandbox_child import main; "
        f"main({int(limits.memory_mb)}, {int(limits.cpu_seconds)}, {uid}, {gid})"
    )
    return [sys.executable, "-I", "-c", code]


def _scrubbed_environment(folder: Path) -> dict[str, str]:
    environment = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    environment.update(
        PATH="/usr/local/bin:/usr/bin:/bin",
        HOME=str(folder),
        TMPDIR=str(folder),
        # One thread each: the callers run a sandbox per core.
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return environment


def _account(user: str) -> pwd.struct_passwd | None:
    """Who the child runs as: `user` when this process is root, else this process's user."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise SandboxError(
            f"MODELYARD_SANDBOX_USER names {user!r}, which is no user on this machine; name an "
            "unprivileged user (the default is nobody) for model code to run as."
        ) from None
    if account.pw_uid == 0:
        raise SandboxError(
            f"MODELYARD_SANDBOX_USER names {user!r}, which is root; model code must run as an "
            "unprivileged user (the default is nobody)."
        )
    return account


def _give(folder: Path, account: pwd.struct_passwd) -> None:
    """The private folder and the model's copy belong to the child's user, nothing else."""
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)


def _exit_reason(code: int | None, limits: Limits) -> str:
    if code is None or code >= 0:
        return f"ended with exit status {code}"
    signal_number = -code
    if signal_number in (signal.SIGXCPU, signal.SIGKILL) and limits.cpu_seconds:
        return (
            f"was stopped by signal {signal.Signals(signal_number).name} (the CPU limit is "
            f"{limits.cpu_seconds} s, or it ran out of memory)"
        )
    return f"was stopped by signal {signal.Signals(signal_number).name}"
