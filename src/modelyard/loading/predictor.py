"""The interface every loaded model offers, and the scikit-learn implementation of it."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Array = npt.NDArray[Any]


class Predictor(abc.ABC):
    """A loaded model; `predict` is the server's hot path and is safe to call from threads."""

    flavor: str  # what actually runs: "onnx", "sklearn", "mlflow-sklearn", "mlflow-pyfunc"
    batchable: bool  # True when predict on n rows costs much less than n single calls
    n_features: int | None  # number of input columns expected, when known

    @abc.abstractmethod
    def predict(self, rows: Array) -> dict[str, Array]:
        """rows: 2-D float64 array (n, n_features), columns in signature order.

        Returns named outputs, each an array whose first dimension is n:
        classifiers -> {"label": (n,), "probability": (n, n_classes)};
        regressors and anything else with only predict -> {"prediction": (n,) or (n, k)}.
        Raises ValueError when rows is not 2-D with n_features columns.
        """

    def predict_columns(self, columns: pa.RecordBatch) -> dict[str, Array]:
        """`predict` on rows given as one column per input, in signature order (a scoring
        batch as read from Parquet or CSV)."""
        return self.predict(rows_of(columns))


class SklearnPredictor(Predictor):
    """Runs a scikit-learn estimator (or any object with `predict`) in this process."""

    batchable = True

    def __init__(
        self, estimator: Any, *, flavor: str = "sklearn", n_features: int | None = None
    ) -> None:
        self.estimator = estimator
        self.flavor = flavor
        self.n_features = n_features
        self._classifier = hasattr(estimator, "predict_proba")

    def predict(self, rows: Array) -> dict[str, Array]:
        rows = np.asarray(rows)
        check_width(rows, self.n_features)
        if self._classifier:
            return {
                # Both calls, not argmax of probabilities: some classifiers (SVC) disagree.
                "label": np.asarray(self.estimator.predict(rows)),
                "probability": np.asarray(self.estimator.predict_proba(rows)),
            }
        return {"prediction": np.asarray(self.estimator.predict(rows))}


def rows_of(columns: pa.RecordBatch) -> Array:
    """The float64 matrix whose columns are the batch's columns, in order."""
    arrays = [column.to_numpy(zero_copy_only=False) for column in columns.columns]
    if not arrays:
        return np.empty((columns.num_rows, 0))
    return np.column_stack(arrays).astype(np.float64, copy=False)


def check_width(rows: Array, n_features: int | None) -> None:
    if rows.ndim != 2 or (n_features is not None and rows.shape[1] != n_features):
        columns = "the model's" if n_features is None else n_features
        raise ValueError(
            f"Expected a 2-D array with {columns} columns, got shape {rows.shape}; send "
            "one value per signature input, in signature order."
        )
