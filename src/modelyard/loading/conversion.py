"""scikit-learn to ONNX with skl2onnx, kept only when it reproduces the estimator's outputs."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import numpy as np

from modelyard.loading.checks import example_for
from modelyard.loading.onnx_model import OnnxPredictor
from modelyard.loading.predictor import Array, SklearnPredictor

log = logging.getLogger(__name__)

# Float32 arithmetic keeps about seven digits: without a relative term, a regressor whose
# targets are in the thousands could never pass an absolute tolerance of 1e-4.
_RELATIVE_TOLERANCE = 1e-5


def convert_to_onnx(
    estimator: Any, n_features: int, example: Array | None, atol: float = 1e-4
) -> bytes | None:
    """ONNX bytes equivalent to the estimator, or None when skl2onnx cannot convert it or the
    converted model's outputs differ from the estimator's on `example` beyond atol
    (log at INFO why it fell back)."""
    rows = example_for(n_features, example)
    assert rows is not None  # n_features is known, so there is always an example
    expected = SklearnPredictor(estimator, n_features=n_features).predict(rows)
    for tensor_type in _input_types_to_try(estimator):
        onnx_bytes = _try_conversion(estimator, n_features, tensor_type, rows, expected, atol)
        if onnx_bytes is not None:
            return onnx_bytes
    log.info("Serving %s natively: no faithful ONNX conversion.", type(estimator).__name__)
    return None


def _input_types_to_try(estimator: Any) -> list[Any]:
    data_types = importlib.import_module("skl2onnx.common.data_types")  # slow import: lazily
    if _uses_trees(estimator):
        # scikit-learn trees compare float32 features (it casts X), so only float input
        # reproduces their splits; double input crosses some thresholds differently.
        return [data_types.FloatTensorType, data_types.DoubleTensorType]
    return [data_types.DoubleTensorType, data_types.FloatTensorType]


def _uses_trees(estimator: Any) -> bool:
    try:
        parts = [estimator, *estimator.get_params(deep=True).values()]
    except (AttributeError, TypeError):
        parts = [estimator]
    modules = (type(part).__module__ for part in parts)
    return any(module.startswith(("sklearn.tree", "sklearn.ensemble")) for module in modules)


def _try_conversion(
    estimator: Any,
    n_features: int,
    tensor_type: Any,
    example: Array,
    expected: dict[str, Array],
    atol: float,
) -> bytes | None:
    input_kind = tensor_type.__name__
    try:
        onnx_bytes = _to_onnx_bytes(estimator, n_features, tensor_type)
        actual = OnnxPredictor(onnx_bytes, keys=tuple(expected)).predict(example)
    except Exception as error:  # skl2onnx and onnxruntime raise many unrelated classes
        log.info(
            "skl2onnx could not convert %s with %s input: %s",
            type(estimator).__name__,
            input_kind,
            error,
        )
        return None
    difference = _difference(expected, actual, atol)
    if difference is not None:
        log.info(
            "The ONNX conversion of %s with %s input differs from scikit-learn: %s",
            type(estimator).__name__,
            input_kind,
            difference,
        )
        return None
    return onnx_bytes


def _to_onnx_bytes(estimator: Any, n_features: int, tensor_type: Any) -> bytes:
    skl2onnx = importlib.import_module("skl2onnx")
    sklearn_base = importlib.import_module("sklearn.base")
    # Without zipmap, probabilities are one (n, n_classes) tensor instead of a dict per row.
    options = {id(estimator): {"zipmap": False}} if sklearn_base.is_classifier(estimator) else None
    model = skl2onnx.to_onnx(
        estimator, initial_types=[("input", tensor_type([None, n_features]))], options=options
    )
    return bytes(model.SerializeToString())


def _difference(expected: dict[str, Array], actual: dict[str, Array], atol: float) -> str | None:
    """Why `actual` does not reproduce `expected`, or None when it does."""
    if list(actual) != list(expected):
        return f"outputs {list(actual)} instead of {list(expected)}"
    for key, wanted in expected.items():
        got = actual[key]
        if got.shape != wanted.shape:
            return f"{key} has shape {got.shape} instead of {wanted.shape}"
        if key == "label" or wanted.dtype.kind not in "fc":
            if not np.array_equal(got, wanted):
                return f"{np.count_nonzero(got != wanted)} of {len(got)} {key} values differ"
        elif not np.allclose(got, wanted, rtol=_RELATIVE_TOLERANCE, atol=atol):
            return f"{key} differs by up to {np.max(np.abs(got - wanted)):.3g} (atol {atol})"
    return None
