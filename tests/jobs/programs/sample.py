"""A team's program, as the jobs tests run it: one function per command."""

from __future__ import annotations

import os
import time
from pathlib import Path

from modelyard import sdk


def ok(ctx: sdk.Context) -> None:
    print(f"hello from {ctx.command}, triggered by {len(ctx.triggers)} event(s)")
    ctx.progress(10, 10)


def fail(ctx: sdk.Context) -> None:
    raise ValueError("the input has no rows")


def flaky(ctx: sdk.Context) -> None:
    if ctx.attempt < 2:
        raise sdk.Transient("the store did not answer")
    print("worked on attempt", ctx.attempt)


def sleep(ctx: sdk.Context) -> None:
    Path("pid").write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("SAMPLE_SLEEP", "60")))


def busy(ctx: sdk.Context) -> None:
    """Note when it ran, for the concurrency tests."""
    started = time.time()
    time.sleep(float(os.environ.get("SAMPLE_SLEEP", "1")))
    with open(os.environ["SAMPLE_INTERVALS"], "a") as log:
        log.write(f"{ctx.run_id} {started} {time.time()}\n")


def train(ctx: sdk.Context) -> None:
    weights = ctx.output_dir / "weights.txt"
    weights.write_text("0.5 0.25")
    ctx.register_model("trained", weights, flavor="text", metrics={"auc": 0.9})
