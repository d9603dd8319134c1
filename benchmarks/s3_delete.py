"""Deleting a prefix of 50,000 objects through the S3 backend vs a plain boto3 loop.

Target: the backend is at most 25% slower than the hand-written loop on the same endpoint
in the same run, i.e. ratio = loop time / backend time >= 0.8.

The endpoint is moto's S3 server (`ThreadedMotoServer`, as in tests/fixtures/s3.py), in
this process: its CPU shares the GIL with the client, identically for both contenders.
Each trial stores N one-byte objects under a fresh prefix (straight into moto's in-memory
backend: moto takes minutes to accept 50,000 PUTs over HTTP) and times one deletion of the
whole prefix over HTTP:

- backend: `get_store("s3://bucket/prefix").delete("s3://bucket/prefix")` (the bucket is
  unversioned; the backend asks that once, with GetBucketVersioning during the warm-up,
  and remembers it, so the timed calls are the same as the loop's plus one HeadObject);
- boto3 loop: the `list_objects_v2` paginator and one `delete_objects` call of up to
  1,000 keys per page (the most S3 accepts), quiet mode.

Both clients are created and used once before timing; the order alternates between
repetitions; medians are reported, with the S3 API calls each contender made.

Run: .venv/bin/python benchmarks/s3_delete.py [--quick | --objects N] [--repeat R]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

import common

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

BUCKET = "modelyard-bench-delete"
DEFAULT_OBJECTS, QUICK_OBJECTS = 50_000, 2_000
TARGET_RATIO = 0.8
KEYS_PER_CALL = 1000
BODY = b"x"


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """Start moto's S3 server on a free port, point the AWS environment at it, stop it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    point_aws_at(endpoint)
    try:
        yield endpoint
    finally:
        server.stop()


def point_aws_at(endpoint: str) -> None:
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    missing = str(Path(tempfile.gettempdir()) / "modelyard-bench-no-aws-config")
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            # A developer's ~/.aws profiles and endpoints stay out of the benchmark.
            "AWS_CONFIG_FILE": missing,
            "AWS_SHARED_CREDENTIALS_FILE": missing,
        }
    )


def plain_client() -> S3Client:
    return boto3.session.Session().client("s3")


# --- counting API calls --------------------------------------------------------------------


@dataclass
class CallCounter:
    """Counts the S3 operations a client sends while `active`."""

    calls: Counter[str] = field(default_factory=Counter)
    active: bool = False

    def attach(self, client: S3Client) -> None:
        client.meta.events.register("before-call.s3.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        if self.active:
            self.calls[model.name] += 1

    def measure(self, action: Callable[[], Any]) -> tuple[Any, float, dict[str, int]]:
        self.calls.clear()
        self.active = True
        try:
            started = time.perf_counter()
            result = action()
            seconds = time.perf_counter() - started
        finally:
            self.active = False
        return result, seconds, dict(self.calls)


# --- contenders ----------------------------------------------------------------------------


def backend_delete(prefix: str) -> int:
    """Bytes freed, as the backend reports them."""
    from modelyard.storage import get_store

    uri = f"s3://{BUCKET}/{prefix}"
    return get_store(uri).delete(uri)


def boto3_loop_delete(client: S3Client, prefix: str) -> int:
    """Objects deleted by the hand-written loop."""
    deleted = 0
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=BUCKET, Prefix=prefix + "/", PaginationConfig={"PageSize": KEYS_PER_CALL}
    )
    for page in pages:
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": item["Key"]} for item in page.get("Contents", [])
        ]
        if keys:
            response = client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})
            if response.get("Errors"):
                raise RuntimeError(f"delete_objects failed: {response['Errors'][0]}")
            deleted += len(keys)
    return deleted


# --- one trial -----------------------------------------------------------------------------


def store_objects(prefix: str, count: int) -> float:
    """Put `count` one-byte objects under `prefix`; returns the wall time.

    Straight into the server's in-memory backend: over HTTP moto stores well under a
    hundred objects a second on this machine, and how the objects got there does not
    change what deleting them costs.
    """
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    started = time.perf_counter()
    for index in range(count):
        backend.put_object(BUCKET, f"{prefix}/{index:07d}", BODY)
    return time.perf_counter() - started


def remaining(client: S3Client, prefix: str) -> int:
    return client.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/")["KeyCount"]


@dataclass
class Contenders:
    admin: S3Client
    loop_client: S3Client
    backend_calls: CallCounter
    loop_calls: CallCounter


def trial(who: str, prefix: str, count: int, contenders: Contenders) -> dict[str, Any]:
    store_seconds = store_objects(prefix, count)
    if who == "backend":
        freed, seconds, calls = contenders.backend_calls.measure(lambda: backend_delete(prefix))
        deleted = freed // len(BODY)
    else:
        loop = partial(boto3_loop_delete, contenders.loop_client, prefix)
        deleted, seconds, calls = contenders.loop_calls.measure(loop)
    left = remaining(contenders.admin, prefix)
    print(
        f"  {who:8} {seconds:7.2f} s  {count / seconds:8,.0f} objects/s  "
        f"(stored in {store_seconds:.1f} s; deleted {deleted:,}, left {left})"
    )
    return {
        "who": who,
        "seconds": round(seconds, 3),
        "deleted": deleted,
        "left": left,
        "calls": calls,
        "store_seconds": round(store_seconds, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),  # others share this machine
    }


def prepare() -> Contenders:
    """Bucket, clients, call counters; every client used once so none pays for set-up."""
    from modelyard.storage.s3 import client_for_environment

    admin = plain_client()
    admin.create_bucket(Bucket=BUCKET)
    backend_client, loop_client = client_for_environment(), plain_client()
    backend_calls, loop_calls = CallCounter(), CallCounter()
    backend_calls.attach(backend_client)
    loop_calls.attach(loop_client)
    for client in (backend_client, loop_client):
        client.list_objects_v2(Bucket=BUCKET, Prefix="warm-up/")
    backend_delete("warm-up")
    return Contenders(admin, loop_client, backend_calls, loop_calls)


# --- report --------------------------------------------------------------------------------


def summary(trials: list[dict[str, Any]], count: int) -> dict[str, Any]:
    backend = statistics.median(t["seconds"] for t in trials if t["who"] == "backend")
    loop = statistics.median(t["seconds"] for t in trials if t["who"] == "boto3")
    ratio = loop / backend
    return {
        "backend_median_seconds": round(backend, 3),
        "boto3_loop_median_seconds": round(loop, 3),
        "backend_objects_per_second": round(count / backend),
        "boto3_loop_objects_per_second": round(count / loop),
        "ratio_loop_over_backend": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "pass": ratio >= TARGET_RATIO and all(t["left"] == 0 for t in trials),
        "backend_calls": next(t["calls"] for t in trials if t["who"] == "backend"),
        "boto3_loop_calls": next(t["calls"] for t in trials if t["who"] == "boto3"),
    }


def print_summary(figures: dict[str, Any], count: int) -> None:
    print()
    print(f"deleting {count:,} objects (medians)")
    print(
        f"backend     {figures['backend_median_seconds']:7.2f} s  "
        f"{figures['backend_objects_per_second']:8,} objects/s  calls {figures['backend_calls']}"
    )
    print(
        f"boto3 loop  {figures['boto3_loop_median_seconds']:7.2f} s  "
        f"{figures['boto3_loop_objects_per_second']:8,} objects/s  "
        f"calls {figures['boto3_loop_calls']}"
    )
    verdict = "PASS" if figures["pass"] else "FAIL"
    print(
        f"{verdict}  ratio loop/backend {figures['ratio_loop_over_backend']:.3f} "
        f"(target >= {TARGET_RATIO})"
    )


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=DEFAULT_OBJECTS)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_OBJECTS:,} objects")
    parser.add_argument("--repeat", type=int, default=3, help="trials per contender")
    args = parser.parse_args()
    if args.quick:
        args.objects = QUICK_OBJECTS
    return args


def run(args: argparse.Namespace) -> None:
    contenders = prepare()
    trials = []
    for number in range(args.repeat):
        order = ("backend", "boto3") if number % 2 == 0 else ("boto3", "backend")
        print(f"repetition {number + 1}/{args.repeat}")
        for who in order:
            trials.append(trial(who, f"r{number}-{who}", args.objects, contenders))
    figures = summary(trials, args.objects)
    print_summary(figures, args.objects)
    config = {"objects": args.objects, "repeat": args.repeat, "keys_per_call": KEYS_PER_CALL}
    config |= {"endpoint": "moto ThreadedMotoServer (in process)", "body_bytes": len(BODY)}
    payload = {"run": common.run_stamp(), "config": config, "summary": figures}
    name = "s3_delete" if args.objects == DEFAULT_OBJECTS else f"s3_delete_{args.objects}"
    common.write_results(name, payload | {"trials": trials})


def main() -> None:
    args = parse_args()
    with moto_endpoint():
        run(args)


if __name__ == "__main__":
    main()
