"""Adaptive micro-batching: requests that arrive while the model is busy share its next call.

A model that takes milliseconds per call (a scikit-learn forest) serves one request at a
time if called inline; with the batcher, the event loop keeps reading requests while the
model runs on its own thread, and whatever arrived meanwhile goes into the next call as
one matrix. Under light load a batch is one request and waits for nothing (unless
`max_wait_ms` asks it to), so latency does not suffer; under heavy load batches grow up
to `max_batch_size`. Models whose single call is cheaper than the hand-off to a thread
(ONNX, microseconds) are called inline instead: see `Dispatcher`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelyard.serving.signature import Matrix

Outputs = dict[str, npt.NDArray[Any]]
Predict = Callable[[Matrix], Outputs]
# Below this time per single-row call, a thread hand-off (tens of µs) costs more than it saves.
INLINE_BELOW_SECONDS = 0.0002


@dataclass
class _Waiting:
    rows: Matrix
    future: asyncio.Future[Outputs]


class Batcher:
    def __init__(
        self,
        predict: Predict,
        max_batch_size: int,
        max_wait_ms: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.predict = predict
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait = max(0.0, max_wait_ms) / 1000
        self.on_batch = on_batch
        self._waiting: list[_Waiting] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")

    async def submit(self, rows: Matrix) -> Outputs:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(rows, loop.create_future())
        self._waiting.append(waiting)
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())  # kept: tasks are weakly held
        return await waiting.future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                if self.max_wait and self._pending_rows() < self.max_batch_size:
                    await asyncio.sleep(self.max_wait)
                batch = self._take()
                await self._run(loop, batch)
        finally:
            self._draining = False

    def _pending_rows(self) -> int:
        return sum(len(w.rows) for w in self._waiting)

    def _take(self) -> list[_Waiting]:
        batch: list[_Waiting] = []
        rows = 0
        while self._waiting and (
            not batch or rows + len(self._waiting[0].rows) <= self.max_batch_size
        ):
            waiting = self._waiting.pop(0)
            batch.append(waiting)
            rows += len(waiting.rows)
        return batch

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[_Waiting]) -> None:
        stacked = batch[0].rows if len(batch) == 1 else np.concatenate([w.rows for w in batch])
        if self.on_batch:
            self.on_batch(len(stacked))
        try:
            outputs = await loop.run_in_executor(self._executor, self.predict, stacked)
        except Exception as error:  # each waiting request gets the model's own error
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(error)
            return
        start = 0
        for waiting in batch:
            end = start + len(waiting.rows)
            if not waiting.future.done():
                waiting.future.set_result({k: v[start:end] for k, v in outputs.items()})
            start = end

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Dispatcher:
    """Calls the model inline when that is cheapest, else through a batcher."""

    def __init__(
        self,
        predict: Predict,
        single_row_seconds: float,
        max_batch_size: int,
        max_wait_ms: float,
        *,
        batchable: bool = True,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.predict = predict
        self.on_batch = on_batch
        self.inline = single_row_seconds < INLINE_BELOW_SECONDS
        # A model that cannot batch still runs off the event loop, one request per call.
        size = max_batch_size if batchable else 1
        self.batcher = None if self.inline else Batcher(predict, size, max_wait_ms, on_batch)

    async def __call__(self, rows: Matrix) -> Outputs:
        if self.batcher is not None:
            return await self.batcher.submit(rows)
        return self.predict(rows)  # not a batch: the batch-size metric is about batches

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
