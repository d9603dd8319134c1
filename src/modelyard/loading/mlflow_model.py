"""MLflow model directories: the MLmodel file, its flavors and serialization formats.

An MLflow scikit-learn model is its pickled estimator (loaded like any other, so it can be
converted to ONNX); any other python_function model runs through MLflow itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from modelyard.loading.errors import ModelLoadError
from modelyard.loading.predictor import Array, Predictor, check_width


class MlflowPyfuncPredictor(Predictor):
    """Runs an MLflow python_function model through MLflow itself (which must be installed)."""

    flavor = "mlflow-pyfunc"
    # Pyfunc models take a whole batch (an array or DataFrame) per call.
    batchable = True

    def __init__(self, model: Any) -> None:
        self._model = model
        self._columns = _signature_columns(model)
        self.n_features = len(self._columns) if self._columns else None
        # A column-based signature makes MLflow require a DataFrame with those names;
        # pandas is always there when MLflow is.
        self._pandas = importlib.import_module("pandas") if self._columns else None

    def predict(self, rows: Array) -> dict[str, Array]:
        rows = np.asarray(rows)
        check_width(rows, self.n_features)
        data = rows if self._pandas is None else self._pandas.DataFrame(rows, columns=self._columns)
        result = self._model.predict(data)
        if hasattr(result, "to_numpy"):
            result = result.to_numpy()
        return {"prediction": np.asarray(result)}


def find_mlmodel(directory: Path) -> Path | None:
    if (directory / "MLmodel").is_file():
        return directory / "MLmodel"
    nested = sorted(path for path in directory.glob("*/MLmodel") if path.is_file())
    if len(nested) > 1:
        names = ", ".join(path.parent.name for path in nested)
        raise ModelLoadError(
            f"{directory} holds several MLflow models ({names}); register one model "
            "directory per version."
        )
    return nested[0] if nested else None


def read_flavors(mlmodel: Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelLoadError(
            f"Cannot read {mlmodel}: {error}; register the MLmodel file MLflow wrote, unchanged."
        ) from error
    flavors = document.get("flavors") if isinstance(document, dict) else None
    if not isinstance(flavors, dict) or not flavors:
        raise ModelLoadError(
            f"{mlmodel} has no 'flavors' section; register the MLmodel file MLflow wrote."
        )
    return flavors


@dataclass(frozen=True)
class SavedEstimator:
    """The file of an MLflow scikit-learn model and the types its MLmodel trusts (skops)."""

    path: Path
    trusted: tuple[str, ...] = ()


def pickled_estimator(flavors: Mapping[str, Any], mlmodel: Path) -> SavedEstimator | None:
    """The saved estimator of an MLflow scikit-learn model, or None for other models."""
    sklearn_flavor = flavors.get("sklearn")
    pyfunc = flavors.get("python_function")
    trusted: tuple[str, ...] = ()
    if isinstance(sklearn_flavor, dict):
        _check_serialization(sklearn_flavor, mlmodel)
        relative = sklearn_flavor.get("pickled_model")
        trusted = tuple(str(name) for name in sklearn_flavor.get("skops_trusted_types") or ())
    elif isinstance(pyfunc, dict) and pyfunc.get("loader_module") == "mlflow.sklearn":
        # Older MLflow versions wrote `data` instead of `model_path`.
        relative = pyfunc.get("model_path") or pyfunc.get("data")
    else:
        return None
    if not relative or not (mlmodel.parent / str(relative)).is_file():
        raise ModelLoadError(
            f"{mlmodel} names the model file {relative!r}, which is not in {mlmodel.parent}; "
            "register every file of the MLflow model directory."
        )
    return SavedEstimator(mlmodel.parent / str(relative), trusted)


def _check_serialization(sklearn_flavor: Mapping[str, Any], mlmodel: Path) -> None:
    serialization = str(sklearn_flavor.get("serialization_format", "cloudpickle")).lower()
    if serialization not in ("skops", "pickle", "cloudpickle"):
        raise ModelLoadError(
            f"{mlmodel} uses serialization_format {serialization!r}, which modelyard cannot "
            "load; log the model with serialization_format='skops' (safe: it runs no code "
            "on load), 'cloudpickle' or 'pickle'."
        )


def load_pyfunc(mlmodel: Path, flavors: Mapping[str, Any]) -> Predictor:
    """The model through mlflow.pyfunc. This runs the model's code: sandbox it."""
    pyfunc = flavors.get("python_function")
    if not isinstance(pyfunc, dict):
        raise ModelLoadError(
            f"{mlmodel} has the flavors {', '.join(sorted(flavors))}; modelyard serves MLflow "
            "models with a 'sklearn' or 'python_function' flavor. Log the model with "
            "mlflow.sklearn or mlflow.pyfunc, or export it to ONNX."
        )
    loader = pyfunc.get("loader_module", "an unnamed loader")
    try:
        mlflow_pyfunc = importlib.import_module("mlflow.pyfunc")
    except ImportError as error:
        raise ModelLoadError(
            f"{mlmodel} is an MLflow python_function model loaded by {loader!r}, which needs "
            "MLflow: install mlflow (and the model's requirements) in the serving "
            "environment, or register the model as sklearn or onnx."
        ) from error
    try:
        model = mlflow_pyfunc.load_model(str(mlmodel.parent))
    except Exception as error:  # the loader is the model's own code: it can raise anything
        raise ModelLoadError(
            f"MLflow could not load {mlmodel.parent} with {loader!r}: {error}; install the "
            "model's requirements (its requirements.txt) in the serving environment."
        ) from error
    return MlflowPyfuncPredictor(model)


def _signature_columns(model: Any) -> list[str] | None:
    schema = model.metadata.get_input_schema()
    if schema is None or schema.is_tensor_spec():
        return None
    return list(schema.input_names())
