"""From a model version's downloaded files to a Predictor: ONNX when it is faithful, else native.

A scikit-learn model (a joblib or pickle file, or an MLflow model directory) is converted to
ONNX with skl2onnx and run by onnxruntime, which answers a single row several times faster
than scikit-learn does. The conversion is served only when it reproduces the estimator's
own predictions on an example, and is cached beside the files as `.modelyard/model.onnx`;
anything skl2onnx cannot convert faithfully runs natively.

Plain Python (no Django): the promotion gate, the prediction server and the benchmarks all
load models through `load_predictor`.
"""

from __future__ import annotations

import abc
import importlib
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import onnxruntime
import yaml
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument

__all__ = [
    "CACHE_PATH",
    "SUPPORTED_FLAVORS",
    "MlflowPyfuncPredictor",
    "ModelLoadError",
    "OnnxPredictor",
    "Predictor",
    "SklearnPredictor",
    "convert_to_onnx",
    "load_predictor",
]

log = logging.getLogger(__name__)

Array = npt.NDArray[Any]

SUPPORTED_FLAVORS = ("sklearn", "onnx", "mlflow")
# Relative to the model directory; the dot keeps it out of the model file search.
CACHE_PATH = Path(".modelyard") / "model.onnx"
_PICKLE_SUFFIXES = (".joblib", ".pkl")
_ONNX_SUFFIXES = (".onnx",)
_PREFERRED_NAMES = ("model.joblib", "model.pkl", "model.onnx")
_EXAMPLE_ROWS = 32
# Float32 arithmetic keeps about seven digits: without a relative term, a regressor whose
# targets are in the thousands could never pass an absolute tolerance of 1e-4.
_RELATIVE_TOLERANCE = 1e-5
_ONNX_INPUT_DTYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
}
_CLASSIFIER_KEYS = ("label", "probability")
_REGRESSOR_KEYS = ("prediction",)


class ModelLoadError(Exception):
    """The files cannot be loaded as a model: the message says what was wrong and what to do."""


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
        _check_width(rows, self.n_features)
        if self._classifier:
            return {
                # Both calls, not argmax of probabilities: some classifiers (SVC) disagree.
                "label": np.asarray(self.estimator.predict(rows)),
                "probability": np.asarray(self.estimator.predict_proba(rows)),
            }
        return {"prediction": np.asarray(self.estimator.predict(rows))}


class OnnxPredictor(Predictor):
    """Runs an ONNX model with onnxruntime on one thread.

    `keys` names the outputs in order (the first len(keys) outputs are fetched); without
    it they are recognised from their shapes: a rank-1 and a rank-2 output are a
    classifier's label and probability, a single output is the prediction.
    """

    flavor = "onnx"
    batchable = True

    def __init__(self, model: bytes | Path, *, keys: Sequence[str] | None = None) -> None:
        self._session = _open_session(model)
        self._input_name, self._input_dtype, self.n_features = _describe_input(self._session)
        outputs = self._session.get_outputs()
        self._keys = tuple(keys) if keys is not None else _recognise_outputs(outputs)
        fetched = _fetched_outputs(outputs, self._keys)
        self._output_names = [output.name for output in fetched]
        # Decided here so predict only branches: building a dict from literals is several
        # times cheaper than dict(zip(...)), which matters for models that run in ~10 µs.
        self._classifier = self._keys == _CLASSIFIER_KEYS
        # A single-output regressor comes back as (n, 1); scikit-learn's predict gives (n,).
        self._squeeze = self._keys == _REGRESSOR_KEYS and _is_column(fetched[0].shape)

    def predict(self, rows: Array) -> dict[str, Array]:
        rows = np.asarray(rows, dtype=self._input_dtype)  # no copy when already that dtype
        try:
            results = self._session.run(self._output_names, {self._input_name: rows})
        except (InvalidArgument, Fail) as error:
            raise ValueError(
                f"The model cannot predict on an array of shape {rows.shape}: {error}. "
                f"Send a 2-D array with {self.n_features or 'the expected number of'} "
                "columns, in signature order."
            ) from None
        if self._classifier:
            return {"label": results[0], "probability": results[1]}
        if self._squeeze:
            return {"prediction": results[0].reshape(-1)}
        return dict(zip(self._keys, results, strict=True))


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
        _check_width(rows, self.n_features)
        data = rows if self._pandas is None else self._pandas.DataFrame(rows, columns=self._columns)
        result = self._model.predict(data)
        if hasattr(result, "to_numpy"):
            result = result.to_numpy()
        return {"prediction": np.asarray(result)}


@dataclass(frozen=True)
class _LoadOptions:
    example: Array | None
    prefer_onnx: bool
    atol: float


# Where deployment's registration-time conversion keeps a version's ONNX model.
ONNX_ARTIFACT = "onnx/model.onnx"


def model_source(directory: Path, artifact_names: Iterable[str], flavor: str) -> tuple[Path, str]:
    """Where to load a version's files from, and as what: its checked ONNX conversion when it
    has one (converted at registration), else its own files as registered."""
    if ONNX_ARTIFACT in set(artifact_names):
        return (directory / ONNX_ARTIFACT).parent, "onnx"
    return directory, flavor


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
    kind = flavor.strip().lower()
    if kind not in SUPPORTED_FLAVORS:
        raise ModelLoadError(
            f"Unknown model flavor {flavor!r}; supported flavors are "
            f"{', '.join(SUPPORTED_FLAVORS)}. Register the version with one of them."
        )
    options = _LoadOptions(example, prefer_onnx, atol)
    if kind == "onnx":
        return _load_onnx_file(directory, options)
    mlmodel = _find_mlmodel(directory)
    if mlmodel is not None:  # also for "sklearn": MLflow models are often registered so
        return _load_mlflow(directory, mlmodel, options)
    if kind == "mlflow":
        raise ModelLoadError(
            f"No MLmodel file in {directory} or its subdirectories; register the whole "
            "MLflow model directory (the folder holding MLmodel), not only the model file."
        )
    return _serve_estimator(directory, _model_file(directory, _PICKLE_SUFFIXES), "sklearn", options)


def convert_to_onnx(
    estimator: Any, n_features: int, example: Array | None, atol: float = 1e-4
) -> bytes | None:
    """ONNX bytes equivalent to the estimator, or None when skl2onnx cannot convert it or the
    converted model's outputs differ from the estimator's on `example` beyond atol
    (log at INFO why it fell back)."""
    rows = _example_for(n_features, example)
    assert rows is not None  # n_features is known, so there is always an example
    expected = SklearnPredictor(estimator, n_features=n_features).predict(rows)
    for tensor_type in _input_types_to_try(estimator):
        onnx_bytes = _try_conversion(estimator, n_features, tensor_type, rows, expected, atol)
        if onnx_bytes is not None:
            return onnx_bytes
    log.info("Serving %s natively: no faithful ONNX conversion.", type(estimator).__name__)
    return None


# Loading each flavor


def _load_onnx_file(directory: Path, options: _LoadOptions) -> Predictor:
    path = _model_file(directory, _ONNX_SUFFIXES)
    return _tried(OnnxPredictor(path), options.example, path)


def _tried(predictor: Predictor, example: Array | None, source: Path) -> Predictor:
    rows = _example_for(predictor.n_features, example)
    if rows is not None:
        _check_predicts(predictor, rows, source)
    return predictor


def _serve_estimator(
    directory: Path, source: Path, flavor: str, options: _LoadOptions
) -> Predictor:
    estimator = _unpickle(source)
    native = SklearnPredictor(estimator, flavor=flavor, n_features=_width(estimator, options))
    example = _example_for(native.n_features, options.example)
    if example is None:  # the width is unknown: nothing to check or convert against
        return native
    expected = _check_predicts(native, example, source)
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
    cached = _cached_onnx(cache, source, keys)
    if cached is not None:
        return cached
    onnx_bytes = convert_to_onnx(estimator, example.shape[1], example, atol)
    if onnx_bytes is None:
        return None
    _write_cache(cache, onnx_bytes)
    return OnnxPredictor(onnx_bytes, keys=keys)


def _find_mlmodel(directory: Path) -> Path | None:
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


def _load_mlflow(directory: Path, mlmodel: Path, options: _LoadOptions) -> Predictor:
    flavors = _read_flavors(mlmodel)
    pickled = _mlflow_pickle(flavors, mlmodel)
    if pickled is not None:
        return _serve_estimator(directory, pickled, "mlflow-sklearn", options)
    predictor = _load_pyfunc(mlmodel, flavors)
    if options.example is None:  # random floats could break a typed column signature
        return predictor
    return _tried(predictor, options.example, mlmodel.parent)


def _read_flavors(mlmodel: Path) -> Mapping[str, Any]:
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


def _mlflow_pickle(flavors: Mapping[str, Any], mlmodel: Path) -> Path | None:
    """The pickled estimator of an MLflow scikit-learn model, or None for other models."""
    sklearn_flavor = flavors.get("sklearn")
    pyfunc = flavors.get("python_function")
    if isinstance(sklearn_flavor, dict):
        _check_serialization(sklearn_flavor, mlmodel)
        relative = sklearn_flavor.get("pickled_model")
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
    return mlmodel.parent / str(relative)


def _check_serialization(sklearn_flavor: Mapping[str, Any], mlmodel: Path) -> None:
    serialization = str(sklearn_flavor.get("serialization_format", "cloudpickle")).lower()
    if serialization not in ("pickle", "cloudpickle"):
        raise ModelLoadError(
            f"{mlmodel} uses serialization_format {serialization!r}, which modelyard cannot "
            "load; log the model with serialization_format='cloudpickle' or 'pickle'."
        )


def _load_pyfunc(mlmodel: Path, flavors: Mapping[str, Any]) -> Predictor:
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


# Files


def _model_file(directory: Path, suffixes: tuple[str, ...]) -> Path:
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
    other_suffixes = _ONNX_SUFFIXES if suffixes == _PICKLE_SUFFIXES else _PICKLE_SUFFIXES
    others = _files_with(directory, other_suffixes)
    if others:
        other_flavor = "onnx" if other_suffixes == _ONNX_SUFFIXES else "sklearn"
        return f"{message}, or register {others[0].name} with flavor {other_flavor!r}."
    return f"{message}."


def _unpickle(path: Path) -> Any:
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
    if not callable(getattr(estimator, "predict", None)):
        raise ModelLoadError(
            f"{path} holds a {type(estimator).__name__}, which has no predict method; "
            "save the fitted estimator or pipeline itself."
        )
    _single_threaded(estimator)
    return estimator


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


# ONNX


def _new_session(model: bytes | str) -> Any:
    options = onnxruntime.SessionOptions()
    # One thread per session: the server runs a process per core, so more would only
    # oversubscribe them, and a session without a thread pool stays usable after fork.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _open_session(model: bytes | Path) -> Any:
    where = "the converted model" if isinstance(model, bytes) else str(model)
    try:
        session = _new_session(model if isinstance(model, bytes) else str(model))
    except Exception as error:  # onnxruntime raises a different class per kind of bad model
        raise ModelLoadError(
            f"onnxruntime {onnxruntime.__version__} cannot load {where}: {error}. Check the "
            "file is a complete ONNX model with an opset this onnxruntime supports."
        ) from error
    if isinstance(model, Path) and any(_is_zipmap(out) for out in session.get_outputs()):
        return _open_session(_without_zipmap(model))
    return session


def _is_zipmap(output: Any) -> bool:
    return str(output.type).startswith("seq(map(")


def _without_zipmap(path: Path) -> bytes:
    """The model with each ZipMap output replaced by the probability tensor it wraps.

    skl2onnx adds ZipMap by default, turning probabilities into a list of dicts per row;
    serving wants one (n, n_classes) array.
    """
    onnx = importlib.import_module("onnx")
    model = onnx.load(str(path))
    outputs = {output.name: output for output in model.graph.output}
    for node in list(model.graph.node):
        if node.op_type == "ZipMap" and node.output[0] in outputs:
            labels = [onnx.helper.get_attribute_value(a) for a in node.attribute]
            n_classes = max(len(value) for value in labels)
            tensor = onnx.helper.make_tensor_value_info(
                node.input[0], onnx.TensorProto.FLOAT, [None, n_classes]
            )
            outputs[node.output[0]].CopyFrom(tensor)
            model.graph.node.remove(node)
    return bytes(model.SerializeToString())


def _describe_input(session: Any) -> tuple[str, np.dtype[Any], int | None]:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelLoadError(
            f"The ONNX model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
            "modelyard feeds one 2-D tensor of all the signature's columns, so export it "
            "with a single input of shape [None, n_features]."
        )
    declared = inputs[0]
    dtype = _ONNX_INPUT_DTYPES.get(declared.type)
    if dtype is None or len(declared.shape) != 2:
        raise ModelLoadError(
            f"The ONNX model's input {declared.name!r} is {declared.type} of shape "
            f"{declared.shape}; export it with a float or double input of shape "
            "[None, n_features]."
        )
    width = declared.shape[1]
    return declared.name, dtype, width if isinstance(width, int) else None


def _recognise_outputs(outputs: Sequence[Any]) -> tuple[str, ...]:
    if len(outputs) == 1:
        return _REGRESSOR_KEYS
    ranks = [len(output.shape) for output in outputs]
    if ranks == [1, 2]:
        return _CLASSIFIER_KEYS
    return tuple(output.name for output in outputs)


def _fetched_outputs(outputs: Sequence[Any], keys: tuple[str, ...]) -> list[Any]:
    if len(keys) > len(outputs):
        raise ModelLoadError(
            f"The ONNX model has {len(outputs)} outputs but {len(keys)} are needed "
            f"({', '.join(keys)}); export it with label and probability outputs."
        )
    fetched = list(outputs[: len(keys)])
    for output in fetched:
        if not str(output.type).startswith("tensor("):
            raise ModelLoadError(
                f"The ONNX model's output {output.name!r} is {output.type}, not a tensor; "
                "export it with tensor outputs (skl2onnx: options={'zipmap': False})."
            )
    return fetched


def _is_column(shape: Sequence[Any]) -> bool:
    return len(shape) == 2 and shape[1] == 1


def _cached_onnx(cache: Path, source: Path, keys: tuple[str, ...]) -> OnnxPredictor | None:
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


def _write_cache(cache: Path, onnx_bytes: bytes) -> None:
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


# Conversion


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


# Shared checks


def _example_for(n_features: int | None, example: Array | None) -> Array | None:
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
    return np.random.default_rng(0).standard_normal((_EXAMPLE_ROWS, n_features))


def _check_predicts(predictor: Predictor, example: Array, source: Path) -> dict[str, Array]:
    try:
        return predictor.predict(example)
    except Exception as error:  # the model's own code: anything it raises means unusable
        raise ModelLoadError(
            f"{source} loaded but could not predict on {len(example)} rows of "
            f"{example.shape[1]} columns: {type(error).__name__}: {error}. Check the model "
            "is fitted and takes the signature's numeric columns in order."
        ) from error


def _check_width(rows: Array, n_features: int | None) -> None:
    if rows.ndim != 2 or (n_features is not None and rows.shape[1] != n_features):
        columns = "the model's" if n_features is None else n_features
        raise ValueError(
            f"Expected a 2-D array with {columns} columns, got shape {rows.shape}; send "
            "one value per signature input, in signature order."
        )
