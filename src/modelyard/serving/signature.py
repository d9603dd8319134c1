"""A model version's declared signature, and turning request rows into the matrix it expects.

The registry stores signatures as JSON: `{"inputs": [{"name": "age", "type": "double"}, …],
"outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}]}`. Inputs named
`view:feature` come from the feature store by entity id (features/references.py). The server and
the promotion gate both need the same two things from it: rows of input in column order as
one float matrix (with a message naming the field when a row does not fit), and a check
that a prediction has the declared outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from modelyard.features.references import FeatureRef, FeatureRefError, feature_inputs

NUMERIC_TYPES = frozenset(
    {"double", "float", "float32", "float64", "long", "integer", "int", "int32", "int64"}
    | {"boolean", "bool"}
)
Matrix = npt.NDArray[np.float64]


class SignatureError(ValueError):
    """The declared signature itself is unusable (say so when registering or promoting)."""


class InputError(ValueError):
    """A request's input does not fit the signature; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Output:
    name: str
    type: str
    shape: tuple[int, ...] | None


@dataclass(frozen=True)
class Signature:
    inputs: tuple[Column, ...]
    outputs: tuple[Output, ...]
    # The features the inputs name (`view:feature`): the server fetches them by entity id.
    features: tuple[FeatureRef, ...] | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Signature:
        raw = raw or {}
        inputs = tuple(_column(item, "inputs") for item in _entries(raw, "inputs"))
        if not inputs:
            raise SignatureError(
                "The signature declares no inputs: register the version with --signature-from "
                "SAMPLE.csv (or .parquet) for the inputs and --signature '{\"outputs\": [...]}' "
                "(the format: `modelyard models register --help`)"
            )
        untyped = [c.name for c in inputs if c.type not in NUMERIC_TYPES]
        if untyped:
            raise SignatureError(
                f"Input(s) {', '.join(untyped)} are not numeric; only numeric inputs "
                f"({', '.join(sorted(NUMERIC_TYPES))}) can be served for now."
            )
        outputs = tuple(_output(item) for item in _entries(raw, "outputs"))
        try:
            features = feature_inputs(column.name for column in inputs)
        except FeatureRefError as error:
            raise SignatureError(str(error)) from None
        return cls(inputs, outputs, features)

    @cached_property
    def names(self) -> list[str]:
        return [column.name for column in self.inputs]

    def rows(self, instances: Any) -> Matrix:
        """Rows given as lists in column order or as objects by column name, as one matrix."""
        if not isinstance(instances, list) or not instances:
            raise InputError("instances", "send a non-empty list of rows.")
        if isinstance(instances[0], Mapping):
            return self._rows_from_objects(instances)
        return self.matrix(instances, "instances")

    def matrix(self, values: Any, field: str) -> Matrix:
        """A nested list or array of shape (n, number of inputs), checked and as float64."""
        try:
            array = values if isinstance(values, np.ndarray) else np.asarray(values)
        except (ValueError, TypeError):  # ragged rows
            raise InputError(field, _first_bad_value(values, self.names)) from None
        if array.dtype.kind not in "fiub":
            raise InputError(field, _first_bad_value(values, self.names))
        if array.ndim == 1 and array.shape[0] == len(self.inputs):
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != len(self.inputs):
            raise InputError(
                field,
                f"expected rows of {len(self.inputs)} values ({', '.join(self.names)}), "
                f"got shape {list(array.shape)}.",
            )
        return array.astype(np.float64, copy=False)

    def _rows_from_objects(self, instances: list[Any]) -> Matrix:
        rows = []
        for index, row in enumerate(instances):
            if not isinstance(row, Mapping):
                raise InputError(f"instances[{index}]", "mix of objects and lists; use one.")
            missing = [name for name in self.names if name not in row]
            if missing:
                raise InputError(missing[0], f"missing from row {index}.")
            rows.append([row[name] for name in self.names])
        return self.matrix(rows, "instances")

    def output_problems(self, outputs: Mapping[str, Any], rows: int) -> list[str]:
        """What in a prediction contradicts the declared outputs (empty when all fit)."""
        problems = []
        for declared in self.outputs:
            if declared.name not in outputs:
                available = ", ".join(sorted(outputs))
                problems.append(f"declared output {declared.name!r} missing (got {available})")
                continue
            shape = tuple(np.shape(outputs[declared.name]))
            if declared.shape is not None and not _fits(shape, declared.shape, rows):
                problems.append(
                    f"output {declared.name!r} has shape {list(shape)}, declared "
                    f"{list(declared.shape)} (-1 = one per input row)"
                )
        return problems


def _entries(raw: Mapping[str, Any], key: str) -> Sequence[Any]:
    entries = raw.get(key, [])
    if not isinstance(entries, list):
        raise SignatureError(f"signature.{key} must be a list of {{name, type}} objects.")
    return entries


def _column(item: Any, key: str) -> Column:
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise SignatureError(f"Each of signature.{key} needs a name, e.g. {{'name': 'age'}}.")
    return Column(item["name"], str(item.get("type", "double")).lower())


def _output(item: Any) -> Output:
    column = _column(item, "outputs")
    shape = item.get("shape")
    if shape is not None and not (
        isinstance(shape, list) and all(isinstance(d, int) and d >= -1 for d in shape)
    ):
        raise SignatureError(f"signature.outputs {column.name!r}: shape must be a list of ints.")
    return Output(column.name, column.type, tuple(shape) if shape is not None else None)


def _fits(shape: tuple[int, ...], declared: tuple[int, ...], rows: int) -> bool:
    if len(shape) != len(declared):
        return False
    expected = (rows if size == -1 else size for size in declared)
    return all(got == want for got, want in zip(shape, expected, strict=True))


def _first_bad_value(values: Any, names: list[str]) -> str:
    """Find the value that is not a number, to name its column (the slow path of errors)."""
    rows = values if isinstance(values, list) else []
    for row_index, row in enumerate(rows):
        cells = row if isinstance(row, list) else [row]
        if len(cells) != len(names):
            expected = f"{len(names)} ({', '.join(names)})"
            return f"row {row_index} has {len(cells)} values; expected {expected}."
        for column_index, cell in enumerate(cells):
            if isinstance(cell, bool) or not isinstance(cell, int | float):
                name = names[column_index] if column_index < len(names) else str(column_index)
                return f"row {row_index}, column {name!r}: {cell!r} is not a number."
    return "values must be numbers in rows of equal length."
