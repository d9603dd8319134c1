"""Signatures without hand-written JSON: from a data sample, from an input example and the
model's own outputs, or from the `MLmodel` file MLflow wrote.

Plain Python (no Django): the CLI and the client use it on the user's machine before a
version is registered. The format, as stored with a version:

    {"inputs":  [{"name": "age", "type": "double"}, ...],                 (models)
     "outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}, ...],
     "columns": [{"name": "age", "type": "double"}, ...]}                (data and feature sets)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from modelyard.loading.errors import ModelLoadError
from modelyard.loading.predictor import SklearnPredictor

Json = dict[str, Any]
# Arrow type names as the signature names them; anything else is kept as Arrow writes it.
_ARROW_TYPES = {
    "double": "double",
    "float": "float",
    "halffloat": "float",
    "int64": "long",
    "int32": "int",
    "int16": "int",
    "int8": "int",
    "uint8": "int",
    "uint16": "int",
    "uint32": "long",
    "bool": "boolean",
    "string": "string",
    "large_string": "string",
}
# MLflow's column and tensor types as the signature names them.
_MLFLOW_TYPES = {
    "double": "double",
    "float": "float",
    "long": "long",
    "integer": "int",
    "boolean": "boolean",
    "string": "string",
    "datetime": "timestamp",
    "float64": "double",
    "float32": "float",
    "int64": "long",
    "int32": "int",
    "bool": "boolean",
}
EXAMPLE_ROWS = 5  # what the gate and the ONNX check need; more only makes the version bigger


def arrow_type_name(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return _ARROW_TYPES.get(str(arrow_type), str(arrow_type))


def columns_of_schema(schema: pa.Schema) -> list[Json]:
    """The name and signature type of each field of an Arrow schema."""
    return [{"name": field.name, "type": arrow_type_name(field.type)} for field in schema]


def infer_signature(example: Any, model: Any = None) -> Json:
    """A model signature from an input example and, given the fitted model, its outputs.

    `example` is a pandas DataFrame, an Arrow table, a list of row objects, or a 2-D array
    (whose columns are then named x0, x1, ...). The outputs are what modelyard answers
    for this model: the model predicts on the example here, in this process.
    """
    table = _as_table(example)
    signature: Json = {"inputs": columns_of_schema(table.schema)}
    if model is not None:
        signature["outputs"] = _outputs_of(model, table)
    return signature


def example_rows(example: Any, limit: int = EXAMPLE_ROWS) -> list[list[Any]]:
    """The first rows of an example as lists in column order (what `input_example` stores)."""
    table = _as_table(example).slice(0, limit)
    columns = [column.to_pylist() for column in table.columns]
    return [list(row) for row in zip(*columns, strict=True)]


def _as_table(example: Any) -> pa.Table:
    if isinstance(example, pa.Table):
        return example
    if hasattr(example, "columns") and hasattr(example, "to_dict"):  # a pandas DataFrame
        return pa.Table.from_pandas(example, preserve_index=False)
    if isinstance(example, Sequence) and example and isinstance(example[0], Mapping):
        return pa.Table.from_pylist([dict(row) for row in example])
    array = np.asarray(example)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(
            "The input example must be a DataFrame, an Arrow table, a list of row objects "
            f"or a 2-D array with at least one row; got shape {list(array.shape)}."
        )
    return pa.table({f"x{index}": array[:, index] for index in range(array.shape[1])})


def _outputs_of(model: Any, table: pa.Table) -> list[Json]:
    rows = np.column_stack([column.to_numpy(zero_copy_only=False) for column in table.columns])
    return outputs_of(SklearnPredictor(model).predict(rows.astype(np.float64)))


def outputs_of(outputs: Mapping[str, Any]) -> list[Json]:
    """The signature's outputs of a prediction, one row per input row (shape [-1, ...])."""
    return [
        {
            "name": name,
            "type": arrow_type_name(pa.from_numpy_dtype(np.asarray(values).dtype)),
            "shape": [-1, *np.shape(values)[1:]],
        }
        for name, values in outputs.items()
    ]


def from_mlmodel(directory: Path) -> tuple[Json, list[list[Any]] | None]:
    """The signature inputs and the input example an MLflow model directory declares.

    Either may be missing: ({}, None) when MLflow saved neither. Outputs are left out:
    modelyard answers with its own outputs (label and probability for a classifier), not
    MLflow's; `predicted_outputs` finds them.
    """
    mlmodel = directory / "MLmodel"
    document = _read_yaml(mlmodel)
    signature = document.get("signature") or {}
    inputs = _mlflow_inputs(signature.get("inputs"), mlmodel)
    example = _mlflow_example(directory, document.get("saved_input_example_info"), inputs)
    return ({"inputs": inputs} if inputs else {}), example


def _read_yaml(path: Path) -> Json:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelLoadError(
            f"Cannot read {path}: {error}; register the MLmodel file MLflow wrote, unchanged."
        ) from error
    if not isinstance(document, dict):
        raise ModelLoadError(f"{path} is not an MLmodel file; register the one MLflow wrote.")
    return document


def _mlflow_inputs(raw: Any, mlmodel: Path) -> list[Json]:
    if not raw:
        return []
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as error:
        raise ModelLoadError(f"{mlmodel}: its signature inputs are not JSON ({error}).") from None
    if len(specs) == 1 and specs[0].get("type") == "tensor":
        return _tensor_inputs(specs[0].get("tensor-spec") or {})
    return [
        {"name": str(spec.get("name")), "type": _MLFLOW_TYPES.get(spec.get("type"), "double")}
        for spec in specs
    ]


def _tensor_inputs(spec: Mapping[str, Any]) -> list[Json]:
    # A tensor signature has no column names: one per column of its second dimension.
    shape = spec.get("shape") or []
    width = shape[1] if len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 0 else 0
    kind = _MLFLOW_TYPES.get(str(spec.get("dtype")), "double")
    return [{"name": f"x{index}", "type": kind} for index in range(width)]


def _mlflow_example(directory: Path, info: Any, inputs: list[Json]) -> list[list[Any]] | None:
    if not isinstance(info, Mapping) or not info.get("artifact_path"):
        return None
    path = directory / str(info["artifact_path"])
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # an example is a help, not a requirement: the gate says when one lacks
    rows = _example_table(saved, [column["name"] for column in inputs])
    return rows[:EXAMPLE_ROWS] if rows else None


def _example_table(saved: Any, names: list[str]) -> list[list[Any]]:
    # MLflow writes DataFrames in pandas' "split" orient ({"columns", "data"}) and arrays
    # as {"inputs": [...]} or a bare list.
    if isinstance(saved, Mapping) and "data" in saved:
        columns = list(saved.get("columns") or names)
        order = [columns.index(name) for name in names if name in columns] or list(
            range(len(columns))
        )
        return [[row[index] for index in order] for row in saved["data"]]
    data = saved.get("inputs") if isinstance(saved, Mapping) else saved
    if isinstance(data, list) and data and isinstance(data[0], list):
        return [list(row) for row in data]
    return []


def predicted_outputs(directory: Path, flavor: str, example: list[list[Any]]) -> list[Json]:
    """The outputs modelyard answers with for the model in `directory`, found by predicting
    on the example here. This loads the model in this process: for a user's own model on
    their own machine, before it is registered."""
    from modelyard.loading.load import load_predictor

    rows = np.asarray(example, dtype=np.float64)
    predictor = load_predictor(directory, flavor, example=rows, prefer_onnx=False)
    return outputs_of(predictor.predict(rows))
