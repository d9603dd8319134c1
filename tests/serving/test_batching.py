"""Micro-batching: concurrent requests share calls of a slow model, and get their own rows."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from modelyard.serving.batching import Batcher, Dispatcher


class SlowModel:
    """Doubles its input; each call takes 20 ms whatever the batch size, like a forest."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def predict(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        self.batch_sizes.append(len(rows))
        time.sleep(0.02)
        return {"prediction": rows[:, 0] * 2}


async def concurrently(dispatch, count: int) -> list[dict[str, np.ndarray]]:
    rows = [np.array([[float(i), 0.0]]) for i in range(count)]
    return await asyncio.gather(*(dispatch(r) for r in rows))


def test_concurrent_requests_share_calls_and_get_their_own_rows() -> None:
    model = SlowModel()
    batcher = Batcher(model.predict, max_batch_size=8, max_wait_ms=0)

    results = asyncio.run(concurrently(batcher.submit, 20))

    assert [float(r["prediction"][0]) for r in results] == [2.0 * i for i in range(20)]
    assert sum(model.batch_sizes) == 20
    assert max(model.batch_sizes) == 8  # capped
    assert len(model.batch_sizes) < 20  # shared


def test_a_lone_request_does_not_wait() -> None:
    model = SlowModel()
    batcher = Batcher(model.predict, max_batch_size=8, max_wait_ms=0)

    started = time.perf_counter()
    asyncio.run(concurrently(batcher.submit, 1))

    assert model.batch_sizes == [1]
    assert time.perf_counter() - started < 0.5


def test_a_model_error_reaches_every_request_of_the_batch() -> None:
    def broken(rows: np.ndarray) -> dict[str, np.ndarray]:
        raise RuntimeError("out of memory")

    batcher = Batcher(broken, max_batch_size=4, max_wait_ms=0)

    async def run() -> list[object]:
        rows = [np.zeros((1, 2)) for _ in range(3)]
        return await asyncio.gather(*(batcher.submit(r) for r in rows), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(run()))


def test_fast_models_run_inline_and_models_that_cannot_batch_one_at_a_time() -> None:
    model = SlowModel()
    fast = Dispatcher(model.predict, single_row_seconds=0.00001, max_batch_size=8, max_wait_ms=0)
    single = Dispatcher(
        model.predict, single_row_seconds=0.02, max_batch_size=8, max_wait_ms=0, batchable=False
    )

    assert fast.batcher is None
    asyncio.run(concurrently(single, 4))

    assert model.batch_sizes == [1, 1, 1, 1]


@pytest.mark.parametrize("wait_ms", [5.0])
def test_max_wait_gathers_requests_that_arrive_shortly_after(wait_ms: float) -> None:
    model = SlowModel()
    batcher = Batcher(model.predict, max_batch_size=64, max_wait_ms=wait_ms)

    async def staggered() -> None:
        async def later(i: int) -> None:
            await asyncio.sleep(0.001 * i)
            await batcher.submit(np.array([[float(i), 0.0]]))

        await asyncio.gather(*(later(i) for i in range(3)))

    asyncio.run(staggered())

    assert model.batch_sizes == [3]
