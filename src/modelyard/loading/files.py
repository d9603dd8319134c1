"""Finding the model file among a version's files, and unpickling it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib

from modelyard.loading.errors import ModelLoadError

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".joblib", ".pkl", ".skops")
ONNX_SUFFIXES = (".onnx",)
_PREFERRED_NAMES = ("model.skops", "model.joblib", "model.pkl", "model.onnx")
# skops runs no code on load; it builds only the types it is told to trust. These libraries'
# own types are trusted; any other type must be listed by the MLmodel that names the file.
_SKOPS_TRUSTED_LIBRARIES = ("sklearn.", "numpy.", "scipy.")


def model_file(directory: Path, suffixes: tuple[str, ...]) -> Path:
    candidates = _files_with(directory, suffixes)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ModelLoadError(_no_model_file(directory, suffixes))
    for name in _PREFERRED_NAMES:
        for candidate in candidates:
            if candidate.name.lower() == name:
                return candidate
    raise ModelLoadError(
        f"{directory} holds several model files ({', '.join(c.name for c in candidates)}); "
        f"register only one, or name the one to serve {' or '.join(_PREFERRED_NAMES)}."
    )


def _files_with(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith(".")
    )


def _no_model_file(directory: Path, suffixes: tuple[str, ...]) -> str:
    wanted = " or ".join(suffixes)
    message = (
        f"No {wanted} file in {directory}; register the model's files (e.g. model{suffixes[0]})"
    )
    other_suffixes = ONNX_SUFFIXES if suffixes == PICKLE_SUFFIXES else PICKLE_SUFFIXES
    others = _files_with(directory, other_suffixes)
    if others:
        other_flavor = "onnx" if other_suffixes == ONNX_SUFFIXES else "sklearn"
        return f"{message}, or register {others[0].name} with flavor {other_flavor!r}."
    return f"{message}."


def unpickle(path: Path, trusted: Sequence[str] = ()) -> Any:
    """The estimator in a joblib, pickle or skops file. A joblib or pickle file runs its
    code: sandbox it. A skops file runs none; `trusted` names the types it may build beyond
    scikit-learn's, numpy's and scipy's."""
    if path.suffix.lower() == ".skops":
        return _checked(load_skops(path, trusted), path)
    try:
        estimator = joblib.load(path)  # also reads plain pickle files (MLflow's)
    except ModuleNotFoundError as error:
        raise ModelLoadError(_missing_module(path, error.name or "")) from error
    except Exception as error:  # unpickling a bad or foreign file can raise almost anything
        raise ModelLoadError(
            f"Cannot load {path}: {type(error).__name__}: {error}. Check it was saved with "
            "joblib.dump or pickle.dump from a fitted model, using the library versions "
            "installed in the serving environment."
        ) from error
    return _checked(estimator, path)


def _checked(estimator: Any, path: Path) -> Any:
    if not callable(getattr(estimator, "predict", None)):
        raise ModelLoadError(
            f"{path} holds a {type(estimator).__name__}, which has no predict method; "
            "save the fitted estimator or pipeline itself."
        )
    _single_threaded(estimator)
    return estimator


def load_skops(path: Path, trusted: Sequence[str] = ()) -> Any:
    """A model saved by skops (MLflow's `serialization_format: skops`), building only
    scikit-learn's, numpy's and scipy's types and those in `trusted`."""
    import skops.io

    try:
        needed = skops.io.get_untrusted_types(file=path)
        refused = [
            name
            for name in needed
            if not name.startswith(_SKOPS_TRUSTED_LIBRARIES) and name not in trusted
        ]
        if refused:
            raise ModelLoadError(
                f"{path} holds types modelyard does not trust: {', '.join(refused)}. Save the "
                "model with mlflow.sklearn (skops_trusted_types=[...] lists them in its "
                "MLmodel) after checking them, or export the model to ONNX."
            )
        return skops.io.load(path, trusted=needed)
    except ModelLoadError:
        raise
    except Exception as error:  # a damaged or foreign file can raise almost anything
        raise ModelLoadError(
            f"Cannot load {path} with skops: {type(error).__name__}: {error}. Check it was "
            "saved with skops.io.dump (or mlflow.sklearn with serialization_format='skops') "
            "using the library versions installed in the serving environment."
        ) from error


def _missing_module(path: Path, module: str) -> str:
    if module.split(".")[0] == "cloudpickle":
        return (
            f"{path} was saved with cloudpickle, which is not installed in the serving "
            "environment; pip install cloudpickle there."
        )
    return (
        f"{path} needs the Python module {module!r}, which is not installed in the serving "
        "environment; install the package that provides it (the code the model was "
        "pickled with) there."
    )


def _single_threaded(estimator: Any) -> None:
    # The server runs a process per core; an estimator fitted with n_jobs=-1 would start a
    # thread pool on every call and oversubscribe them.
    try:
        names = [name for name in estimator.get_params(deep=True) if name.endswith("n_jobs")]
        estimator.set_params(**dict.fromkeys(names, 1))
    except (AttributeError, TypeError, ValueError) as error:
        log.debug("Left n_jobs of %s alone: %s", type(estimator).__name__, error)
