"""Scoring a model version on an evaluation data set: the champion check's measurement.

Both the candidate and the current holder are scored here, on the same rows, rather than
trusting the metrics each declared at registration (which may come from different data).
The data is read here, by modelyard; the models (in their sandboxes) only get its rows.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from modelyard.lib.errors import InvalidInput
from modelyard.registry.models import AssetVersion
from modelyard.serving.loading import LoadedVersion, fetch_files
from modelyard.serving.signature import Matrix, Signature

Outputs = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    score: Callable[[npt.NDArray[Any], Outputs], float]


@dataclass(frozen=True)
class EvaluationData:
    ref: str
    rows: Matrix
    labels: npt.NDArray[Any]


def _probability(outputs: Outputs) -> npt.NDArray[Any]:
    if "probability" not in outputs:
        raise InvalidInput("This metric needs class probabilities; the model gives none.")
    probability = outputs["probability"]
    return probability[:, 1] if probability.ndim == 2 and probability.shape[1] == 2 else probability


def _predicted(outputs: Outputs) -> npt.NDArray[Any]:
    for name in ("label", "prediction"):
        if name in outputs:
            return outputs[name]
    raise InvalidInput(f"The model's outputs ({', '.join(outputs)}) hold no label or prediction.")


def _roc_auc(labels: npt.NDArray[Any], outputs: Outputs) -> float:
    from sklearn.metrics import roc_auc_score

    probability = _probability(outputs)
    multi = "ovr" if probability.ndim == 2 else "raise"
    return float(roc_auc_score(labels, probability, multi_class=multi))


def _sk(name: str, **options: Any) -> Callable[[npt.NDArray[Any], Outputs], float]:
    def score(labels: npt.NDArray[Any], outputs: Outputs) -> float:
        import sklearn.metrics

        function = getattr(sklearn.metrics, name)
        predicted = outputs["probability"] if name == "log_loss" else _predicted(outputs)
        return float(function(labels, predicted, **options))

    return score


def _rmse(labels: npt.NDArray[Any], outputs: Outputs) -> float:
    return math.sqrt(_sk("mean_squared_error")(labels, outputs))


METRICS = {
    metric.name: metric
    for metric in (
        Metric("roc_auc", True, _roc_auc),
        Metric("accuracy", True, _sk("accuracy_score")),
        Metric("f1", True, _sk("f1_score", average="macro")),
        Metric("r2", True, _sk("r2_score")),
        Metric("log_loss", False, _sk("log_loss")),
        Metric("rmse", False, _rmse),
        Metric("mae", False, _sk("mean_absolute_error")),
    )
}


def choose_metric(configured: str, declared: dict[str, float]) -> Metric:
    """The configured metric, else the first known one the candidate declares."""
    name = configured or next((m for m in declared if m in METRICS), "")
    if name not in METRICS:
        known = ", ".join(METRICS)
        raise InvalidInput(
            f"No metric to compare on ({name or 'none set or declared'}); set one of {known} "
            "with `modelyard gate TEAM/NAME --metric NAME`."
        )
    return METRICS[name]


def score(metric: Metric, loaded: LoadedVersion, data: EvaluationData) -> float:
    return metric.score(data.labels, loaded.predictor.predict(data.rows))


def read_evaluation_data(
    version: AssetVersion, signature: Signature, label_column: str
) -> EvaluationData:
    """The data set version's rows in the model's input order, and its label column."""
    directory = fetch_files(version)
    table = _read_table(directory, version.ref)
    missing = [name for name in [*signature.names, label_column] if name not in table]
    if missing:
        raise InvalidInput(
            f"Evaluation data {version.ref} lacks column(s) {', '.join(missing)} that the "
            f"model's signature and label column ({label_column}) need; it has "
            f"{', '.join(list(table)[:20])}."
        )
    rows = np.column_stack([np.asarray(table[name], dtype=np.float64) for name in signature.names])
    return EvaluationData(version.ref, rows, np.asarray(table[label_column]))


def _read_table(directory: Path, ref: str) -> dict[str, list[Any]]:
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".csv", ".parquet"))
    if not files:
        raise InvalidInput(f"Evaluation data {ref} holds no .csv or .parquet file.")
    table: dict[str, list[Any]] = {}
    for path in files:
        part = _read_csv(path) if path.suffix == ".csv" else _read_parquet(path)
        for name, values in part.items():
            table.setdefault(name, []).extend(values)
    return table


def _read_csv(path: Path) -> dict[str, list[Any]]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        columns: list[list[Any]] = [[] for _ in header]
        for line_number, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise InvalidInput(
                    f"{path.name}, line {line_number}: {len(row)} fields, expected {len(header)}."
                )
            for column, cell in zip(columns, row, strict=True):
                column.append(_number(cell))
    return dict(zip(header, columns, strict=True))


def _number(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell


def _read_parquet(path: Path) -> dict[str, list[Any]]:
    import pyarrow.parquet as parquet

    return parquet.read_table(path).to_pydict()  # type: ignore[no-any-return]
