"""Prometheus metrics of the prediction server, per model and version.

With several worker processes, prometheus_client's multiprocess mode keeps each process's
values in files under PROMETHEUS_MULTIPROC_DIR (set by `modelyard serve` before this module
is imported) and `/metrics` adds them up, so one scrape sees the whole server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "modelyard_requests", "Prediction requests answered", ["model", "version", "code"]
)
LATENCY = Histogram(
    "modelyard_request_seconds",
    "Time from request to response, inside the server",
    ["model", "version"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
BATCH_ROWS = Histogram(
    "modelyard_batch_rows",
    "Rows per call of the model (micro-batches)",
    ["model", "version"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
)
LOAD_SECONDS = Gauge(
    "modelyard_model_load_seconds",
    "How long the version took to load (cold-load time)",
    ["model", "version"],
    multiprocess_mode="max",
)
LOAD_FAILURES = Counter(
    "modelyard_model_load_failures",
    "Versions that failed to load (the old one kept serving)",
    ["model"],
)
COLD_LOADS = Counter(
    "modelyard_cold_loads",
    "Loads of a model unloaded for the memory budget, on a request that needed it",
    ["model"],
)
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class VersionMetrics:
    """Label children resolved once per loaded version: the hot path skips the lookups."""

    ok: Counter
    bad_input: Counter
    failed: Counter
    latency: Histogram
    batch_rows: Histogram

    @classmethod
    def of(cls, model: str, version: int) -> VersionMetrics:
        labels = (model, str(version))
        return cls(
            REQUESTS.labels(*labels, "200"),
            REQUESTS.labels(*labels, "422"),
            REQUESTS.labels(*labels, "500"),
            LATENCY.labels(*labels),
            BATCH_ROWS.labels(*labels),
        )


def render() -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
