"""Running an ONNX model with onnxruntime: its session, its input and its named outputs."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument

from modelyard.loading.errors import ModelLoadError
from modelyard.loading.predictor import Array, Predictor

_ONNX_INPUT_DTYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
}
CLASSIFIER_KEYS = ("label", "probability")
REGRESSOR_KEYS = ("prediction",)


class OnnxPredictor(Predictor):
    """Runs an ONNX model with onnxruntime on one thread.

    `keys` names the outputs in order (the first len(keys) outputs are fetched); without
    it they are recognised from their shapes: a rank-1 and a rank-2 output are a
    classifier's label and probability, a single output is the prediction.
    """

    flavor = "onnx"
    batchable = True

    def __init__(self, model: bytes | Path, *, keys: Sequence[str] | None = None) -> None:
        self._session = open_session(model)
        self._input_name, self._input_dtype, self.n_features = _describe_input(self._session)
        outputs = self._session.get_outputs()
        self._keys = tuple(keys) if keys is not None else _recognise_outputs(outputs)
        fetched = _fetched_outputs(outputs, self._keys)
        self._output_names = [output.name for output in fetched]
        # Decided here so predict only branches: building a dict from literals is several
        # times cheaper than dict(zip(...)), which matters for models that run in ~10 µs.
        self._classifier = self._keys == CLASSIFIER_KEYS
        # A single-output regressor comes back as (n, 1); scikit-learn's predict gives (n,).
        self._squeeze = self._keys == REGRESSOR_KEYS and _is_column(fetched[0].shape)

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


def _new_session(model: bytes | str) -> Any:
    options = onnxruntime.SessionOptions()
    # One thread per session: the server runs a process per core, so more would only
    # oversubscribe them, and a session without a thread pool stays usable after fork.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def open_session(model: bytes | Path) -> Any:
    where = "the converted model" if isinstance(model, bytes) else str(model)
    try:
        session = _new_session(model if isinstance(model, bytes) else str(model))
    except Exception as error:  # onnxruntime raises a different class per kind of bad model
        raise ModelLoadError(
            f"onnxruntime {onnxruntime.__version__} cannot load {where}: {error}. Check the "
            "file is a complete ONNX model with an opset this onnxruntime supports."
        ) from error
    if isinstance(model, Path) and any(_is_zipmap(out) for out in session.get_outputs()):
        return open_session(_without_zipmap(model))
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
        return REGRESSOR_KEYS
    ranks = [len(output.shape) for output in outputs]
    if ranks == [1, 2]:
        return CLASSIFIER_KEYS
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
