"""Trying a loaded model on example rows, so an unusable one fails at load, not on a request."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelyard.loading.errors import ModelLoadError
from modelyard.loading.predictor import Array, Predictor

EXAMPLE_ROWS = 32


def example_for(n_features: int | None, example: Array | None) -> Array | None:
    """The rows to check a model on: the given example, else deterministic random rows."""
    if example is not None and np.size(example) > 0:
        rows = np.asarray(example, dtype=np.float64)
        if rows.ndim != 2 or (n_features is not None and rows.shape[1] != n_features):
            raise ModelLoadError(
                f"The input example has shape {rows.shape} but the model expects rows of "
                f"{n_features} columns; fix the example or the signature."
            )
        return rows
    if n_features is None:
        return None
    return np.random.default_rng(0).standard_normal((EXAMPLE_ROWS, n_features))


def check_predicts(predictor: Predictor, example: Array, source: Path) -> dict[str, Array]:
    try:
        return predictor.predict(example)
    except Exception as error:  # the model's own code: anything it raises means unusable
        raise ModelLoadError(
            f"{source} loaded but could not predict on {len(example)} rows of "
            f"{example.shape[1]} columns: {type(error).__name__}: {error}. Check the model "
            "is fitted and takes the signature's numeric columns in order."
        ) from error


def tried(predictor: Predictor, example: Array | None, source: Path) -> Predictor:
    """The predictor, once it predicted on the example (or random rows of its width)."""
    rows = example_for(predictor.n_features, example)
    if rows is not None:
        check_predicts(predictor, rows, source)
    return predictor
