"""MLflow models as MLflow itself writes them today: saved with the real `mlflow` package in
each of its serialization formats, with a signature and an input example.

skops (MLflow's safe default for scikit-learn) runs no code on load: only the types the
MLmodel trusts, besides scikit-learn's, numpy's and scipy's, are built.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

from modelyard.loading import ModelLoadError, load_predictor
from modelyard.loading.signatures import example_rows, from_mlmodel, infer_signature

mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
mlflow_models = pytest.importorskip("mlflow.models")

FORMATS = ("skops", "cloudpickle", "pickle")
# A random forest's trees are a scikit-learn type skops does not trust by default; MLflow
# refuses to save the model unless it is listed.
TREE = "sklearn.tree._tree.Tree"


class Doubler(BaseEstimator):  # type: ignore[misc]
    """An estimator defined outside scikit-learn: skops must be told to trust it."""

    def fit(self, rows: Any, labels: Any) -> Doubler:
        return self

    def predict(self, rows: Any) -> np.ndarray:
        return np.asarray(rows)[:, 0] * 2


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, pd.Series]:
    rows, labels = load_breast_cancer(return_X_y=True, as_frame=True)
    return rows, labels


@pytest.fixture(scope="module")
def forest(frame) -> RandomForestClassifier:
    rows, labels = frame
    return RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(rows, labels)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, frame, forest) -> dict[str, Path]:
    """The forest saved once in each format (saving is the slow part)."""
    rows, _ = frame
    root = tmp_path_factory.mktemp("mlflow")
    return {fmt: save(forest, root / fmt, rows, fmt, [TREE]) for fmt in FORMATS}


def save(model: Any, path: Path, rows: pd.DataFrame, fmt: str, trusted: list[str]) -> Path:
    signature = mlflow_models.infer_signature(rows, model.predict(rows))
    extra = {"skops_trusted_types": trusted} if fmt == "skops" else {}
    with warnings.catch_warnings():  # MLflow warns on every pickle save
        warnings.simplefilter("ignore")
        mlflow_sklearn.save_model(
            model,
            str(path),
            serialization_format=fmt,
            signature=signature,
            input_example=rows.head(3),
            # Given, so MLflow does not infer them by importing the model in a subprocess.
            pip_requirements=["scikit-learn"],
            **extra,
        )
    return path


# ONNX conversion is the same code for every format once the estimator is loaded: tried on
# skops only, to keep the suite short.
@pytest.mark.parametrize(
    ("fmt", "prefer_onnx"), [("skops", True), *((fmt, False) for fmt in FORMATS)]
)
def test_each_serialization_format_loads_and_predicts_like_the_model(
    tmp_path, frame, forest, saved, fmt, prefer_onnx
):
    rows, _ = frame
    directory = tmp_path / fmt
    shutil.copytree(saved[fmt], directory)  # the ONNX conversion is cached beside the files

    predictor = load_predictor(directory, "mlflow", prefer_onnx=prefer_onnx)

    assert predictor.flavor == ("onnx" if prefer_onnx else "mlflow-sklearn")
    outputs = predictor.predict(rows.to_numpy(dtype=np.float64))
    assert np.array_equal(outputs["label"], forest.predict(rows))
    np.testing.assert_allclose(outputs["probability"], forest.predict_proba(rows), atol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_mlmodel_signature_and_input_example_are_read(frame, saved, fmt):
    rows, _ = frame

    signature, example = from_mlmodel(saved[fmt])

    assert [c["name"] for c in signature["inputs"]] == list(rows.columns)
    assert {c["type"] for c in signature["inputs"]} == {"double"}
    assert example == rows.head(3).to_numpy().tolist()


def test_a_type_the_mlmodel_does_not_trust_is_refused_by_name(tmp_path, frame):
    rows, labels = frame
    trusted = [f"{__name__}.Doubler"]
    directory = save(Doubler().fit(rows, labels), tmp_path / "model", rows, "skops", trusted)
    mlmodel = directory / "MLmodel"
    # MLflow checked the trust list at save time; an MLmodel edited afterwards (or a file
    # from elsewhere) must not widen what loading builds.
    text = mlmodel.read_text()
    mlmodel.write_text(text.replace(f"- {__name__}.Doubler", "- numpy.float64"))

    with pytest.raises(ModelLoadError, match=rf"does not trust: {__name__}\.Doubler"):
        load_predictor(directory, "mlflow", prefer_onnx=False)


def test_a_type_the_mlmodel_trusts_is_built(tmp_path, frame):
    rows, labels = frame
    trusted = [f"{__name__}.Doubler"]
    directory = save(Doubler().fit(rows, labels), tmp_path / "model", rows, "skops", trusted)

    predictor = load_predictor(directory, "mlflow", prefer_onnx=False, example=rows.to_numpy())

    np.testing.assert_allclose(
        predictor.predict(rows.to_numpy())["prediction"], rows.iloc[:, 0] * 2
    )


def test_a_plain_skops_file_registered_as_sklearn_loads(tmp_path, frame, forest):
    import skops.io

    rows, _ = frame
    skops.io.dump(forest, tmp_path / "model.skops")

    predictor = load_predictor(tmp_path, "sklearn", prefer_onnx=False)

    assert np.array_equal(predictor.predict(rows.to_numpy())["label"], forest.predict(rows))


def test_a_damaged_skops_file_says_how_it_should_have_been_saved(tmp_path):
    (tmp_path / "model.skops").write_bytes(b"not a zip file")

    with pytest.raises(ModelLoadError, match=r"saved with skops.io.dump"):
        load_predictor(tmp_path, "sklearn")


def test_signature_inferred_from_an_example_and_the_models_outputs(frame, forest):
    rows, _ = frame

    signature = infer_signature(rows.head(), model=forest)

    assert [c["name"] for c in signature["inputs"]] == list(rows.columns)
    assert signature["outputs"] == [
        {"name": "label", "type": "long", "shape": [-1]},
        {"name": "probability", "type": "double", "shape": [-1, 2]},
    ]
    assert example_rows(rows, limit=2) == rows.head(2).to_numpy().tolist()


def test_an_array_example_gets_positional_names():
    signature = infer_signature(np.zeros((2, 3)))

    assert [c["name"] for c in signature["inputs"]] == ["x0", "x1", "x2"]
    with pytest.raises(ValueError, match="2-D array with at least one row"):
        infer_signature(np.zeros(3))
