"""The Open Inference Protocol (KServe V2) request and response bodies, over JSON.

Inputs are accepted as one tensor of shape [rows, columns] (any name; [columns] is one
row) or as one tensor per signature column, named after it, of shape [rows] or [rows, 1].
Triton's binary tensor extension is read too (`Inference-Header-Content-Length`), because
its official client sends binary inputs by default; outputs always go back as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from modelyard.serving.signature import InputError, Matrix, Signature

DATATYPES: dict[str, npt.DTypeLike] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}
NAMES_BY_KIND = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}


@dataclass(frozen=True)
class Request:
    rows: Matrix
    id: str | None
    outputs: tuple[str, ...] | None


def parse_request(body: bytes, json_length: int | None, signature: Signature) -> Request:
    document, binary = _split(body, json_length)
    if not isinstance(document, dict):
        raise InputError("body", 'expected a JSON object with "inputs".')
    tensors = document.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise InputError("inputs", "send a non-empty list of input tensors.")
    arrays = _tensors(tensors, binary)
    rows = _rows(arrays, signature)
    request_id = document.get("id")
    return Request(rows, str(request_id) if request_id is not None else None, _wanted(document))


def parse_entities(
    body: bytes, json_length: int | None, keys: dict[str, str]
) -> tuple[list[dict[str, Any]], str | None, tuple[str, ...] | None]:
    """A model that fetches its features takes its entity keys as inputs, one tensor per key
    (INT64 or BYTES, shape [rows]): the entities, the request id and the outputs wanted."""
    document, binary = _split(body, json_length)
    if binary or not isinstance(document, dict):
        raise InputError("body", 'expected a JSON object with "inputs" (no binary tensors).')
    tensors = document.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise InputError("inputs", "send a non-empty list of input tensors, one per entity key.")
    given = {t.get("name"): t.get("data") for t in tensors if isinstance(t, Mapping)}
    missing = [key for key in keys if key not in given]
    if missing:
        raise InputError(
            ", ".join(missing),
            f"missing input; this model takes its entity keys ({', '.join(keys)}) as inputs, "
            "one tensor per key of shape [rows].",
        )
    columns = {key: _flat(key, given[key]) for key in keys}
    if len({len(column) for column in columns.values()}) != 1:
        raise InputError(next(iter(keys)), "key tensors must all have the same number of rows.")
    rows = len(next(iter(columns.values())))
    entities = [{key: columns[key][row] for key in keys} for row in range(rows)]
    request_id = document.get("id")
    return entities, str(request_id) if request_id is not None else None, _wanted(document)


def _flat(name: str, data: Any) -> list[Any]:
    if isinstance(data, list) and data and all(isinstance(item, list) for item in data):
        data = [value for item in data for value in item]  # shape [rows, 1]
    if not isinstance(data, list) or not data:
        raise InputError(name, "data must be a non-empty list of key values.")
    return data


def _split(body: bytes, json_length: int | None) -> tuple[Any, bytes]:
    if json_length is not None and not 0 <= json_length <= len(body):
        raise InputError("Inference-Header-Content-Length", "exceeds the body length.")
    text = body if json_length is None else body[:json_length]
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InputError("body", f"not valid JSON ({error}).") from None
    return document, b"" if json_length is None else body[json_length:]


def _tensors(tensors: list[Any], binary: bytes) -> dict[str, npt.NDArray[Any]]:
    arrays: dict[str, npt.NDArray[Any]] = {}
    offset = 0
    for index, tensor in enumerate(tensors):
        if not isinstance(tensor, Mapping):
            raise InputError(
                f"inputs[{index}]", "each input is an object with name, shape, datatype and data."
            )
        name = str(tensor.get("name", f"inputs[{index}]"))
        array, offset = _tensor(name, tensor, binary, offset)
        arrays[name] = array
    return arrays


def _tensor(
    name: str, tensor: Mapping[str, Any], binary: bytes, offset: int
) -> tuple[npt.NDArray[Any], int]:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InputError(name, "shape must be a list of non-negative integers, e.g. [1, 20].")
    dtype = DATATYPES.get(str(tensor.get("datatype", "")).upper())
    if dtype is None:
        raise InputError(name, f"datatype must be one of {', '.join(DATATYPES)} (numeric).")
    size = 1
    for dimension in shape:  # np.prod costs microseconds per request; this is the hot path
        size *= dimension
    parameters = tensor.get("parameters") or {}
    binary_size = parameters.get("binary_data_size") if isinstance(parameters, Mapping) else None
    if binary_size is not None:
        return _binary_tensor(name, binary, offset, binary_size, dtype, shape, size)
    return _json_tensor(name, tensor.get("data"), dtype, shape, size), offset


def _json_tensor(
    name: str, data: Any, dtype: npt.DTypeLike, shape: list[int], size: int
) -> npt.NDArray[Any]:
    if not isinstance(data, list):
        raise InputError(name, "data must be a list of numbers (flat or nested).")
    try:
        array = np.asarray(data)
    except ValueError:
        raise InputError(name, "data is ragged: nested lists must have equal lengths.") from None
    if array.dtype.kind not in "fiub":
        raise InputError(name, f"data must hold numbers only ({np.dtype(dtype).name}).")
    if array.size != size:
        raise InputError(name, f"shape {shape} needs {size} values; data has {array.size}.")
    return array.reshape(shape)


def _binary_tensor(
    name: str,
    binary: bytes,
    offset: int,
    byte_size: Any,
    dtype: npt.DTypeLike,
    shape: list[int],
    size: int,
) -> tuple[npt.NDArray[Any], int]:
    expected = size * np.dtype(dtype).itemsize
    if byte_size != expected or offset + expected > len(binary):
        raise InputError(name, f"binary_data_size must be {expected} bytes for shape {shape}.")
    array = np.frombuffer(binary, dtype=dtype, count=size, offset=offset).reshape(shape)
    return array, offset + expected


def _rows(arrays: dict[str, npt.NDArray[Any]], signature: Signature) -> Matrix:
    names = signature.names
    if len(arrays) == 1 and not (len(names) == 1 and names[0] in arrays):
        name, array = next(iter(arrays.items()))
        return signature.matrix(array, name)
    missing = [name for name in names if name not in arrays]
    if missing:
        raise InputError(
            missing[0],
            f"missing input; send one tensor of shape [rows, "
            f"{len(names)}] or one per column ({', '.join(names)}).",
        )
    columns = [arrays[name].reshape(-1) for name in names]
    if len({len(column) for column in columns}) != 1:
        raise InputError(names[0], "column tensors must all have the same number of rows.")
    return signature.matrix(np.column_stack(columns), "inputs")


def _wanted(document: Mapping[str, Any]) -> tuple[str, ...] | None:
    outputs = document.get("outputs")
    if not isinstance(outputs, list):
        return None
    return tuple(str(o.get("name")) for o in outputs if isinstance(o, Mapping))


def response_body(
    model: str, version: int, outputs: Mapping[str, npt.NDArray[Any]], request: Request
) -> bytes:
    wanted = request.outputs
    unknown = [name for name in wanted or () if name not in outputs]
    if unknown:
        raise InputError(
            "outputs", f"unknown output {unknown[0]!r}; the model gives {', '.join(outputs)}."
        )
    body: dict[str, Any] = {
        "model_name": model,
        "model_version": str(version),
        "outputs": [_output(name, outputs[name]) for name in (wanted or outputs)],
    }
    if request.id is not None:
        body["id"] = request.id
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def _output(name: str, array: npt.NDArray[Any]) -> dict[str, Any]:
    datatype = NAMES_BY_KIND.get(array.dtype.kind, "FP64")
    flat = np.ascontiguousarray(array, dtype=DATATYPES[datatype]).reshape(-1)
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": flat}


def output_datatype(declared: str) -> str:
    """The V2 datatype a response gives a declared output: the one `_output` picks for the
    array kind the type names (a `long` label comes back INT64, not FP64)."""
    if declared in ("boolean", "bool"):
        return "BOOL"
    if declared in ("long", "integer", "int", "int32", "int64"):
        return "INT64"
    return "FP64"


KEY_DATATYPES = {"int": "INT64", "string": "BYTES"}


def metadata(
    model: str,
    versions: list[str],
    signature: Signature,
    platform: str,
    keys: dict[str, str] | None = None,
) -> bytes:
    """The model's V2 metadata; a model that fetches its features takes its entity `keys`
    (name: int or string) as inputs, and lists the features it fetches."""
    inputs = [{"name": "input", "datatype": "FP64", "shape": [-1, len(signature.inputs)]}]
    parameters: dict[str, Any] = {"columns": signature.names}
    if keys is not None:
        inputs = [{"name": k, "datatype": KEY_DATATYPES[t], "shape": [-1]} for k, t in keys.items()]
        parameters = {"entity_keys": list(keys), "features": signature.names}
    body = {
        "name": model,
        "versions": versions,
        "platform": platform,
        "inputs": inputs,
        "outputs": [
            {"name": o.name, "datatype": output_datatype(o.type), "shape": list(o.shape or [-1])}
            for o in signature.outputs
        ],
        "parameters": parameters,
    }
    return orjson.dumps(body)
