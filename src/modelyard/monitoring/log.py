"""The prediction log of one serving worker: a bounded buffer, written in batches.

A request only appends one tuple to a deque (under the GIL, no lock, no I/O); when the
buffer is full the record is dropped and counted (`modelyard_prediction_log_dropped`),
so a writer that lags never slows a request. A background thread, started in the worker
process on the first record (after the fork), writes each batch as one Parquet file per
model and hour under the artifact root and adds it to the per-window summaries the
monitors read (`summaries.add_batch`).
"""

from __future__ import annotations

import io
import logging
import os
import random
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
from django.conf import settings
from django.db import close_old_connections
from prometheus_client import Counter

from modelyard import storage
from modelyard.serving.fleet import Served, Slot

log = logging.getLogger(__name__)

DROPPED = Counter(
    "modelyard_prediction_log_dropped",
    "Predictions not logged because the log writer lagged behind",
    ["model"],
)
SETTINGS_REFRESH_SECONDS = 30.0


class Record(NamedTuple):
    """One logged request (a named tuple: the cheapest record to make on the hot path)."""

    request_id: str
    at: float
    model: str
    asset_id: int
    version_id: int
    version: int
    features: tuple[str, ...]
    rows: Any  # the input matrix as parsed from the request, None when it did not parse
    outputs: dict[str, Any] | None
    status: int
    seconds: float


class PredictionLog:
    """The recorder the prediction server calls (see serving.app.Recorder)."""

    def __init__(self, capacity: int, flush_seconds: float, default_rate: float = 1.0) -> None:
        self.capacity = capacity
        self.flush_seconds = flush_seconds
        self.default_rate = default_rate
        self.rates: dict[str, float] = {}
        self.buffer: deque[Record] = deque()
        self.worker = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        self._stop = threading.Event()
        self._rates_read_at = 0.0
        self._flush_lock = threading.Lock()
        self._logged_models: set[int] = set()  # whose monitors' gauges this worker shows

    @classmethod
    def from_settings(cls) -> PredictionLog:
        log = cls(settings.PREDICTION_LOG_BUFFER, settings.PREDICTION_LOG_FLUSH_SECONDS)
        log._refresh_settings()  # before the first request, not at the first flush
        return log

    # --- the request side: cheap and never blocking ---------------------------------------

    def sampled(self, model: str) -> bool:
        rate = self.rates.get(model, self.default_rate)
        return rate >= 1.0 or (rate > 0.0 and random.random() < rate)  # noqa: S311

    def record(
        self,
        request_id: str,
        slot: Slot,
        served: Served,
        rows: Any,
        outputs: dict[str, Any] | None,
        status: int,
        seconds: float,
    ) -> None:
        if len(self.buffer) >= self.capacity:
            DROPPED.labels(slot.name).inc()
            return
        loaded = served.loaded
        features = tuple(loaded.signature.names)
        self.buffer.append(
            Record(
                request_id,
                time.time(),
                slot.ref,
                slot.asset_id,
                loaded.version_id,
                loaded.number,
                features,
                rows,
                outputs,
                status,
                seconds,
            )
        )
        if self._thread_pid != os.getpid():
            self._start()

    # --- the writer thread ---------------------------------------------------------------

    def _start(self) -> None:
        self._thread_pid = os.getpid()
        self.worker = f"{self._thread_pid}-{uuid.uuid4().hex[:8]}"  # this forked worker's
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.flush_seconds + 5)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # the next batch is tried again; the log must not die
                log.exception("Writing the prediction log failed")
            finally:
                close_old_connections()

    def flush(self) -> int:
        """Write what is buffered now; return how many records were written."""
        with self._flush_lock:
            self._refresh_settings()
            batch = [self.buffer.popleft() for _ in range(len(self.buffer))]
            if not batch:
                return 0
            from modelyard.monitoring import summaries

            for (asset_id, hour), records in _by_model_hour(batch).items():
                self._logged_models.add(asset_id)
                self._write_parquet(records, hour)
                summaries.add_batch(asset_id, records)
            return len(batch)

    def _refresh_settings(self) -> None:
        if time.monotonic() - self._rates_read_at < SETTINGS_REFRESH_SECONDS:
            return
        from modelyard.monitoring.models import LogSettings

        rows = LogSettings.objects.values_list("asset__team__name", "asset__name", "sample_rate")
        self.rates = {f"{team}/{name}": rate for team, name, rate in rows}
        self._rates_read_at = time.monotonic()
        from modelyard.monitoring import gauges

        gauges.refresh(self._logged_models)

    def _write_parquet(self, records: list[Record], hour: datetime) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(_columns(records))
        sink = io.BytesIO()
        pq.write_table(table, sink)
        sink.seek(0)
        uri = storage.join_uri(
            hour_prefix(records[0].model, hour), f"{self.worker}-{uuid.uuid4().hex[:8]}.parquet"
        )
        storage.get_store(uri).put(uri, sink, size=sink.getbuffer().nbytes)


def hour_prefix(model_ref: str, hour: datetime) -> str:
    """Where a model's log files of one hour go: ROOT/TEAM/predictions/NAME/YYYYMMDDTHH."""
    team, _, name = model_ref.partition("/")
    return storage.join_uri(settings.ARTIFACT_ROOT, team, "predictions", name, f"{hour:%Y%m%dT%H}")


def _by_model_hour(batch: list[Record]) -> dict[tuple[int, datetime], list[Record]]:
    groups: dict[tuple[int, datetime], list[Record]] = {}
    for record in batch:
        at = datetime.fromtimestamp(record.at, UTC).replace(minute=0, second=0, microsecond=0)
        groups.setdefault((record.asset_id, at), []).append(record)
    return groups


def _columns(records: list[Record]) -> dict[str, list[Any]]:
    """One row per predicted row: request id, row index, time, version, status, latency,
    each input feature as `input_NAME` and each output as `output_NAME` (a request that
    failed before predicting: one row, no inputs or outputs). Built a record at a time,
    not a row at a time: the writer shares the worker's CPU with requests."""
    inputs = sorted({name for record in records for name in record.features})
    outputs = sorted({name for record in records for name in (record.outputs or {})})
    keys = ["request_id", "row", "time", "version", "status", "latency_ms"]
    names = [*keys, *(f"input_{n}" for n in inputs), *(f"output_{n}" for n in outputs)]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for record in records:
        matrix = _matrix(record)
        count = 1 if matrix is None else len(matrix)
        at = datetime.fromtimestamp(record.at, UTC)
        for key, value in zip(
            keys,
            (record.request_id, None, at, record.version, record.status, record.seconds * 1000),
            strict=True,
        ):
            columns[key].extend([value] * count)
        columns["row"][-count:] = range(count)
        for name in inputs:
            known = matrix is not None and name in record.features
            values = matrix[:, record.features.index(name)].tolist() if known else [None] * count
            columns[f"input_{name}"].extend(values)
        for name in outputs:
            given = (record.outputs or {}).get(name)
            columns[f"output_{name}"].extend(
                np.asarray(given).tolist() if given is not None else [None] * count
            )
    return columns


def _matrix(record: Record) -> Any:
    if record.rows is None:
        return None
    matrix = np.asarray(record.rows)
    ok = matrix.ndim == 2 and matrix.shape[1] == len(record.features) and len(matrix) > 0
    return matrix if ok else None
