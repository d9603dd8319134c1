"""The program every project of benchmarks/burst.py runs: sleep, then note when it ran.

`work(ctx)` sleeps BURST_SLEEP seconds (default 2) and appends one line
`RUN_ID ATTEMPT START END PID` (Unix seconds) to the file named by BURST_TIMESTAMPS:
the benchmark's ground truth for how many programs ran at once. One write per run, in
append mode, well under PIPE_BUF, so lines from concurrent runs never interleave.
"""

from __future__ import annotations

import os
import time

from modelyard import sdk


def work(ctx: sdk.Context) -> None:
    started = time.time()
    time.sleep(float(os.environ.get("BURST_SLEEP", "2")))
    line = f"{ctx.run_id} {ctx.attempt} {started:.6f} {time.time():.6f} {os.getpid()}\n"
    with open(os.environ["BURST_TIMESTAMPS"], "a") as timestamps:
        timestamps.write(line)
