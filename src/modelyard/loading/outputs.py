"""A prediction's named outputs as table columns, and as Arrow for the sandbox's pipe.

`flatten` is the one place a 2-D output (class probabilities) becomes one column per index,
`probability_0`, `probability_1`, …: every scoring engine writes its output through it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from modelyard.loading.predictor import Array


def flatten(outputs: Mapping[str, Array]) -> dict[str, Array]:
    """1-D outputs as they are; each column of a 2-D one as `name_index`."""
    columns: dict[str, Array] = {}
    for name, values in outputs.items():
        if values.ndim == 1:
            columns[name] = values
        else:
            for index in range(values.shape[1]):
                columns[f"{name}_{index}"] = values[:, index]
    return columns


def to_batch(outputs: Mapping[str, Array]) -> pa.RecordBatch:
    """Outputs as one record batch: a 2-D output is a fixed-size list column."""
    arrays = []
    for name, values in outputs.items():
        values = np.asarray(values)
        if values.ndim == 1:
            arrays.append(pa.array(values))
        elif values.ndim == 2:
            flat = pa.array(np.ascontiguousarray(values).reshape(-1))
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, values.shape[1]))
        else:
            raise ValueError(
                f"Output {name!r} has shape {values.shape}; modelyard handles outputs of one "
                "value or one row of values per input row."
            )
    return pa.RecordBatch.from_arrays(arrays, names=list(outputs))


def from_batch(batch: pa.RecordBatch) -> dict[str, Array]:
    """The outputs `to_batch` encoded, as numpy arrays (numbers without a copy)."""
    outputs: dict[str, Array] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_fixed_size_list(column.type):
            width = column.type.list_size
            values = column.flatten().to_numpy(zero_copy_only=False)
            outputs[name] = values.reshape(len(column), width)
        else:
            outputs[name] = column.to_numpy(zero_copy_only=False)
    return outputs


def rows_to_batch(rows: Array) -> pa.RecordBatch:
    """A 2-D float matrix as a record batch of its columns (c0, c1, …), for the pipe."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2:
        raise ValueError(f"Expected a 2-D array of rows, got shape {rows.shape}.")
    arrays = [pa.array(rows[:, index]) for index in range(rows.shape[1])]
    return pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(rows.shape[1])])
