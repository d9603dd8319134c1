"""Crafted model files: pickles whose loading runs code, as an attacker would write them.

`Snooping` unpickles to a working estimator, but first records what its code can reach:
the environment, its user id, its working folder, and whether it could write a file into
a folder it was told to try (MODELYARD_HOME). The report goes to a folder anyone may
write, made by `report_folder`, since the code may run as an unprivileged user.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib

SECRETS = {
    "MODELYARD_DATABASE_URL": "postgresql://admin:db-password@db/modelyard",
    "MODELYARD_BROKER_URL": "redis://:broker-password@redis/0",
    "MODELYARD_SECRET_KEY": "the-secret-key",
    "MODELYARD_REDIS_URL": "redis://:redis-password@redis/1",
    "MODELYARD_EMAIL_URL": "smtp://mailer:mail-password@smtp:587",
    "MODELYARD_TOKEN": "api-token-of-the-service",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
    "GOOGLE_APPLICATION_CREDENTIALS": "/etc/gcp/key.json",
}

_SNOOP = """
import json, os
found = {"uid": os.getuid(), "environ": dict(os.environ), "cwd": os.getcwd(),
         "cwd_files": sorted(os.listdir("."))}
try:
    with open(os.path.join(HOME, "planted-by-a-model"), "w") as handle:
        handle.write("x")
    found["wrote_home"] = True
except OSError as error:
    found["wrote_home"] = False
os.system("id -u > " + os.path.join(REPORTS, "system-uid"))
with open(os.path.join(REPORTS, "report.json"), "w") as handle:
    json.dump(found, handle)
"""


class _Reduced:
    """Pickles to a call of `function(argument)`: what a crafted file does on loading."""

    def __init__(self, function: Any, argument: str) -> None:
        self.function, self.argument = function, argument

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return self.function, (self.argument,)


def snooping(estimator: Any, reports: Path, home: Path) -> _Reduced:
    """Runs the snooping code, then gives `estimator` (so the model still works)."""
    code = f"HOME = {str(home)!r}\nREPORTS = {str(reports)!r}\n{_SNOOP}"
    inner = pickle.dumps(estimator)
    return _Reduced(eval, f"[exec({code!r}), __import__('pickle').loads({inner!r})][1]")


def sleeping(seconds: int) -> _Reduced:
    return _Reduced(eval, f"__import__('time').sleep({seconds})")


def raising(message: str) -> _Reduced:
    return _Reduced(eval, f"(_ for _ in ()).throw(ValueError({message!r}))")


def hungry(gigabytes: int) -> _Reduced:
    return _Reduced(eval, f"bytearray({gigabytes} * 2**30)")


def save(crafted: Any, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(crafted, directory / "model.joblib")
    return directory


def dumped(crafted: Any) -> bytes:
    return pickle.dumps(crafted)


@contextmanager
def report_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="modelyard-crafted-"))
    folder.chmod(0o777)  # the model's code may run as nobody
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_report(folder: Path) -> dict[str, Any]:
    report = json.loads((folder / "report.json").read_text())
    report["system_uid"] = int((folder / "system-uid").read_text().strip())
    return report


def assert_sandboxed(report: dict[str, Any], home: Path) -> None:
    """What the model's code saw is what a sandbox allows, and no more."""
    seen = report["environ"]
    leaked = [name for name in SECRETS if name in seen]
    assert not leaked, f"the model's code saw {leaked}"
    assert not any(value in json.dumps(seen) for value in SECRETS.values())
    assert not any(name.startswith(("MODELYARD_", "AWS_")) for name in seen)
    assert report["wrote_home"] is False
    assert not (home / "planted-by-a-model").exists()
    # A private folder: its copy of the model's files, and what libraries create there.
    assert "model" in report["cwd_files"]
    assert "planted-by-a-model" not in report["cwd_files"]
    assert "modelyard-sandbox-" in report["cwd"]
    if os.geteuid() == 0:  # the service runs as root: the model's code must not
        assert report["uid"] != 0
        assert report["system_uid"] != 0
