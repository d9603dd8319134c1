"""The ONNX conversion cached beside a model's files (`.modelyard/model.onnx`).

A machine that loads a scikit-learn model without a registered conversion converts it
once and reuses the result while it is newer than the model file.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from modelyard.loading.errors import ModelLoadError
from modelyard.loading.onnx_model import OnnxPredictor

log = logging.getLogger(__name__)

# Relative to the model directory; the dot keeps it out of the model file search.
CACHE_PATH = Path(".modelyard") / "model.onnx"


def cached_onnx(cache: Path, source: Path, keys: tuple[str, ...]) -> OnnxPredictor | None:
    try:
        if cache.stat().st_mtime_ns <= source.stat().st_mtime_ns:
            return None  # older than the model it was converted from
    except FileNotFoundError:
        return None
    try:
        return OnnxPredictor(cache, keys=keys)
    except ModelLoadError as error:  # e.g. truncated by a crash: convert again
        log.warning("Ignoring the unusable cached conversion %s: %s", cache, error)
        return None


def write_cache(cache: Path, onnx_bytes: bytes) -> None:
    try:
        cache.parent.mkdir(exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=cache.parent, prefix=".", suffix=".tmp")
    except OSError as error:  # a read-only model directory only costs a conversion per load
        log.info("Not caching the ONNX conversion in %s: %s", cache.parent, error)
        return
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(onnx_bytes)
        # Renamed into place whole: a process loading at the same time never reads half.
        os.replace(temporary, cache)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        log.info("Not caching the ONNX conversion at %s: %s", cache, error)
