"""An executor that only records what the dispatcher submitted (tests run them by hand)."""

from __future__ import annotations

from modelyard.jobs.executors import Executor


class RecordingExecutor(Executor):
    submitted: list[int] = []

    def submit(self, run_id: int) -> None:
        RecordingExecutor.submitted.append(run_id)
