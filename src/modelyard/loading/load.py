"""From a model's files to a Predictor: ONNX when it is faithful, else native.

A scikit-learn model (a joblib or pickle file, or an MLflow model directory) is converted to
ONNX with skl2onnx and run by onnxruntime, which answers a single row several times faster
than scikit-learn does. The conversion is served only when it reproduces the estimator's
own predictions on an example, and is cached beside the files (`cache.py`); anything
skl2onnx cannot convert faithfully runs natively.

Loading a pickled or MLflow model runs its code in this process: outside the prediction
server, call this only inside the sandbox (`sandbox.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.loading import conversion
from modelyard.loading.cache import CACHE_PATH, cached_onnx, write_cache
from modelyard.loading.checks import check_predicts, example_for, tried
from modelyard.loading.errors import ModelLoadError
from modelyard.loading.files import ONNX_SUFFIXES, PICKLE_SUFFIXES, model_file, unpickle
from modelyard.loading.mlflow_model import (
    find_mlmodel,
    load_pyfunc,
    pickled_estimator,
    read_flavors,
)
from modelyard.loading.onnx_model import OnnxPredictor
from modelyard.loading.predictor import Array, Predictor, SklearnPredictor

SUPPORTED_FLAVORS = ("sklearn", "onnx", "mlflow")


@dataclass(frozen=True)
class _LoadOptions:
    example: Array | None
    prefer_onnx: bool
    atol: float


def load_predictor(
    directory: Path,
    flavor: str,
    *,
    example: Array | None = None,
    prefer_onnx: bool = True,
    atol: float = 1e-4,
) -> Predictor:
    """Load the model whose files are in `directory`, registered with `flavor`.

    A scikit-learn model is served as ONNX when `prefer_onnx` and the conversion matches
    the estimator on `example` (or on deterministic random rows) within `atol`. Every
    predictor is tried on the example (random rows when none is given and the width is
    known; MLflow pyfunc models only on a given example), so a model that loads but cannot
    predict fails here rather than on the first request. Raises ModelLoadError saying
    what to fix.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(
            f"{directory} is not a directory; download the model version's files into one."
        )
    kind = check_flavor(flavor)
    options = _LoadOptions(example, prefer_onnx, atol)
    if kind == "onnx":
        path = model_file(directory, ONNX_SUFFIXES)
        return tried(OnnxPredictor(path), options.example, path)
    mlmodel = find_mlmodel(directory)
    if mlmodel is not None:  # also for "sklearn": MLflow models are often registered so
        return _load_mlflow(directory, mlmodel, options)
    if kind == "mlflow":
        raise ModelLoadError(
            f"No MLmodel file in {directory} or its subdirectories; register the whole "
            "MLflow model directory (the folder holding MLmodel), not only the model file."
        )
    return _serve_estimator(directory, model_file(directory, PICKLE_SUFFIXES), "sklearn", options)


def check_flavor(flavor: str) -> str:
    kind = flavor.strip().lower()
    if kind not in SUPPORTED_FLAVORS:
        raise ModelLoadError(
            f"Unknown model flavor {flavor!r}; supported flavors are "
            f"{', '.join(SUPPORTED_FLAVORS)}. Register the version with one of them."
        )
    return kind


def _serve_estimator(
    directory: Path,
    source: Path,
    flavor: str,
    options: _LoadOptions,
    trusted: tuple[str, ...] = (),
) -> Predictor:
    estimator = unpickle(source, trusted)
    native = SklearnPredictor(estimator, flavor=flavor, n_features=_width(estimator, options))
    example = example_for(native.n_features, options.example)
    if example is None:  # the width is unknown: nothing to check or convert against
        return native
    expected = check_predicts(native, example, source)
    if not options.prefer_onnx:
        return native
    cache = directory / CACHE_PATH
    converted = _onnx_for(estimator, source, cache, tuple(expected), example, options.atol)
    return converted or native


def _width(estimator: Any, options: _LoadOptions) -> int | None:
    width = getattr(estimator, "n_features_in_", None)
    if width is None and options.example is not None and np.ndim(options.example) == 2:
        width = np.shape(options.example)[1]
    return None if width is None else int(width)


def _onnx_for(
    estimator: Any, source: Path, cache: Path, keys: tuple[str, ...], example: Array, atol: float
) -> OnnxPredictor | None:
    cached = cached_onnx(cache, source, keys)
    if cached is not None:
        return cached
    onnx_bytes = conversion.convert_to_onnx(estimator, example.shape[1], example, atol)
    if onnx_bytes is None:
        return None
    write_cache(cache, onnx_bytes)
    return OnnxPredictor(onnx_bytes, keys=keys)


def _load_mlflow(directory: Path, mlmodel: Path, options: _LoadOptions) -> Predictor:
    flavors = read_flavors(mlmodel)
    saved = pickled_estimator(flavors, mlmodel)
    if saved is not None:
        return _serve_estimator(directory, saved.path, "mlflow-sklearn", options, saved.trusted)
    predictor = load_pyfunc(mlmodel, flavors)
    if options.example is None:  # random floats could break a typed column signature
        return predictor
    return tried(predictor, options.example, mlmodel.parent)
