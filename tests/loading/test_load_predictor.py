from __future__ import annotations

import os
import pickle
import sys
import types
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from skl2onnx import to_onnx
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from modelyard.loading import (
    CACHE_PATH,
    ModelLoadError,
    cache,
    conversion,
    convert_to_onnx,
    load_predictor,
)


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """Always predicts the most frequent class: a model skl2onnx has no converter for."""

    def fit(self, rows, labels):
        self.classes_, counts = np.unique(labels, return_counts=True)
        self.n_features_in_ = rows.shape[1]
        self.frequencies_ = counts / counts.sum()
        return self

    def predict(self, rows):
        return np.full(len(rows), self.classes_[np.argmax(self.frequencies_)])

    def predict_proba(self, rows):
        return np.tile(self.frequencies_, (len(rows), 1))


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def forest(cancer):
    rows, labels = cancer
    return RandomForestClassifier(n_estimators=10, random_state=0).fit(rows, labels)


@pytest.fixture(scope="module")
def logistic_pipeline(cancer):
    rows, labels = cancer
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return model.fit(rows, labels)


def save(model, directory: Path, name: str = "model.joblib") -> Path:
    path = directory / name
    joblib.dump(model, path)
    return path


def assert_same_classifications(outputs, model, rows):
    assert np.array_equal(outputs["label"], model.predict(rows))
    np.testing.assert_allclose(outputs["probability"], model.predict_proba(rows), atol=1e-5)


def write_mlmodel(directory: Path, flavors: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "MLmodel").write_text(
        f"artifact_path: model\nflavors:\n{flavors}\nmlflow_version: 2.16.0\n"
    )


def mlflow_sklearn_flavors(file_name: str = "model.pkl") -> str:
    return f"""  python_function:
    env: {{conda: conda.yaml, virtualenv: python_env.yaml}}
    loader_module: mlflow.sklearn
    model_path: {file_name}
    predict_fn: predict
    python_version: 3.11.9
  sklearn:
    code: null
    pickled_model: {file_name}
    serialization_format: pickle
    sklearn_version: {sklearn.__version__}"""


def test_random_forest_is_served_as_onnx_with_sklearns_predictions(tmp_path, cancer, forest):
    rows, _ = cancer
    save(forest, tmp_path)

    predictor = load_predictor(tmp_path, "sklearn", example=rows[:40])

    assert predictor.flavor == "onnx"
    assert predictor.batchable
    assert predictor.n_features == 30
    assert_same_classifications(predictor.predict(rows), forest, rows)


def test_scaler_and_logistic_regression_pipeline_is_served_as_onnx(
    tmp_path, cancer, logistic_pipeline
):
    rows, _ = cancer
    save(logistic_pipeline, tmp_path)

    predictor = load_predictor(tmp_path, "SKLearn")  # no example: random rows verify it

    assert predictor.flavor == "onnx"
    assert_same_classifications(predictor.predict(rows), logistic_pipeline, rows)


def test_regressor_predictions_are_one_value_per_row(tmp_path):
    rows, targets = load_diabetes(return_X_y=True)
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(rows, targets)
    save(model, tmp_path)

    predictor = load_predictor(tmp_path, "sklearn", example=rows[:20])
    outputs = predictor.predict(rows)

    assert predictor.flavor == "onnx"
    assert list(outputs) == ["prediction"]
    assert outputs["prediction"].shape == (len(rows),)
    np.testing.assert_allclose(outputs["prediction"], model.predict(rows), rtol=1e-5)


def test_gradient_boosting_converts(cancer):
    rows, labels = cancer
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(rows, labels)

    assert convert_to_onnx(model, 30, rows[:50]) is not None


def test_prefer_onnx_false_serves_sklearn_itself(tmp_path, cancer, forest):
    rows, _ = cancer
    save(forest, tmp_path)

    predictor = load_predictor(tmp_path, "sklearn", prefer_onnx=False)
    outputs = predictor.predict(rows)

    assert predictor.flavor == "sklearn"
    assert np.array_equal(outputs["probability"], forest.predict_proba(rows))
    assert not (tmp_path / CACHE_PATH).exists()


def test_model_skl2onnx_cannot_convert_runs_in_sklearn(tmp_path, cancer, caplog):
    rows, labels = cancer
    model = MajorityClassifier().fit(rows, labels)
    save(model, tmp_path)

    with caplog.at_level("INFO", logger=conversion.__name__):
        predictor = load_predictor(tmp_path, "sklearn")

    assert predictor.flavor == "sklearn"
    assert "could not convert MajorityClassifier" in caplog.text
    assert_same_classifications(predictor.predict(rows[:5]), model, rows[:5])


def test_conversion_is_cached_and_reused(tmp_path, cancer, forest, monkeypatch):
    rows, _ = cancer
    save(forest, tmp_path)
    load_predictor(tmp_path, "sklearn")
    assert (tmp_path / CACHE_PATH).is_file()

    def must_not_convert(*args, **kwargs):
        raise AssertionError("converted again despite the cache")

    monkeypatch.setattr(conversion, "convert_to_onnx", must_not_convert)
    predictor = load_predictor(tmp_path, "sklearn")

    assert predictor.flavor == "onnx"
    assert_same_classifications(predictor.predict(rows), forest, rows)


def test_cache_older_than_the_model_file_is_converted_again(tmp_path, cancer, forest, monkeypatch):
    rows, labels = cancer
    save(forest, tmp_path)
    load_predictor(tmp_path, "sklearn")
    replacement = RandomForestClassifier(n_estimators=3, random_state=1).fit(rows, labels)
    source = save(replacement, tmp_path)
    cache_time = (tmp_path / CACHE_PATH).stat().st_mtime_ns
    os.utime(source, ns=(cache_time + 1_000_000, cache_time + 1_000_000))
    calls = []
    real_convert = conversion.convert_to_onnx

    def counting_convert(*args, **kwargs):
        calls.append(args)
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(conversion, "convert_to_onnx", counting_convert)
    predictor = load_predictor(tmp_path, "sklearn")

    assert len(calls) == 1
    assert_same_classifications(predictor.predict(rows), replacement, rows)


def test_unwritable_directory_still_serves_onnx(tmp_path, cancer, forest, monkeypatch):
    rows, _ = cancer
    save(forest, tmp_path)

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(cache.tempfile, "mkstemp", read_only)
    predictor = load_predictor(tmp_path, "sklearn")

    assert predictor.flavor == "onnx"
    assert not (tmp_path / CACHE_PATH).exists()
    assert_same_classifications(predictor.predict(rows[:10]), forest, rows[:10])


def test_onnx_file_registered_directly(tmp_path, cancer, logistic_pipeline):
    rows, _ = cancer
    # skl2onnx's default export wraps probabilities in ZipMap (a dict per row).
    onnx_model = to_onnx(logistic_pipeline, rows[:1].astype(np.float32))
    (tmp_path / "model.onnx").write_bytes(onnx_model.SerializeToString())

    predictor = load_predictor(tmp_path, "onnx")
    outputs = predictor.predict(rows)

    assert predictor.flavor == "onnx"
    assert predictor.n_features == 30
    assert outputs["probability"].shape == (len(rows), 2)
    assert_same_classifications(outputs, logistic_pipeline, rows)


@pytest.mark.parametrize(("prefer_onnx", "flavor"), [(True, "onnx"), (False, "mlflow-sklearn")])
def test_mlflow_sklearn_model_directory(tmp_path, cancer, forest, prefer_onnx, flavor):
    rows, _ = cancer
    model_directory = tmp_path / "model"
    write_mlmodel(model_directory, mlflow_sklearn_flavors())
    (model_directory / "model.pkl").write_bytes(pickle.dumps(forest))

    predictor = load_predictor(tmp_path, "mlflow", prefer_onnx=prefer_onnx)

    assert predictor.flavor == flavor
    assert_same_classifications(predictor.predict(rows), forest, rows)


def test_sklearn_flavor_with_an_mlmodel_file_is_read_as_mlflow(tmp_path, cancer, forest):
    rows, _ = cancer
    write_mlmodel(tmp_path, mlflow_sklearn_flavors("estimator.pkl"))
    (tmp_path / "estimator.pkl").write_bytes(pickle.dumps(forest))

    predictor = load_predictor(tmp_path, "sklearn", prefer_onnx=False)

    assert predictor.flavor == "mlflow-sklearn"
    assert_same_classifications(predictor.predict(rows[:5]), forest, rows[:5])


def test_mlflow_pyfunc_of_mlflow_sklearn_needs_no_mlflow(tmp_path, cancer, forest):
    rows, _ = cancer
    write_mlmodel(
        tmp_path, "  python_function:\n    loader_module: mlflow.sklearn\n    data: m.pkl"
    )
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(forest))

    predictor = load_predictor(tmp_path, "mlflow")

    assert predictor.flavor == "onnx"
    assert_same_classifications(predictor.predict(rows), forest, rows)


def test_other_pyfunc_loader_without_mlflow_says_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed, even where it is
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc", None)  # imported by an earlier test
    write_mlmodel(tmp_path, "  python_function:\n    loader_module: mlflow.pytorch\n    data: data")

    with pytest.raises(ModelLoadError, match=r"'mlflow.pytorch'.*install mlflow"):
        load_predictor(tmp_path, "mlflow")


def test_other_pyfunc_loader_runs_through_mlflow(tmp_path, monkeypatch):
    class FakePyfuncModel:
        metadata = types.SimpleNamespace(get_input_schema=lambda: None)

        def predict(self, data):
            return data.sum(axis=1)

    loaded_from = []
    fake_pyfunc = types.ModuleType("mlflow.pyfunc")
    fake_pyfunc.load_model = lambda path: loaded_from.append(path) or FakePyfuncModel()
    monkeypatch.setitem(sys.modules, "mlflow", types.ModuleType("mlflow"))
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc", fake_pyfunc)
    write_mlmodel(tmp_path / "m", "  python_function:\n    loader_module: custom.loader")

    predictor = load_predictor(tmp_path, "mlflow")
    outputs = predictor.predict(np.array([[1.0, 2.0], [3.0, 4.0]]))

    assert loaded_from == [str(tmp_path / "m")]
    assert predictor.flavor == "mlflow-pyfunc"
    assert np.array_equal(outputs["prediction"], [3.0, 7.0])


def test_cloudpickled_model_without_cloudpickle_says_to_install_it(tmp_path, monkeypatch):
    cloudpickle = pytest.importorskip("cloudpickle")
    rows = np.random.default_rng(0).standard_normal((20, 3))
    model = Pipeline(
        [("square", FunctionTransformer(lambda x: x**2)), ("fit", LogisticRegression())]
    ).fit(rows, rows[:, 0] > 0)
    (tmp_path / "model.pkl").write_bytes(cloudpickle.dumps(model))
    write_mlmodel(
        tmp_path,
        "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle",
    )
    monkeypatch.setitem(sys.modules, "cloudpickle", None)

    with pytest.raises(ModelLoadError, match="pip install cloudpickle"):
        load_predictor(tmp_path, "mlflow")


def test_empty_directory_says_what_to_register(tmp_path):
    expected = r"No \.joblib or \.pkl or \.skops file in .*model\.joblib"
    with pytest.raises(ModelLoadError, match=expected):
        load_predictor(tmp_path, "sklearn")


def test_mlflow_flavor_without_mlmodel_says_to_register_the_directory(tmp_path, forest):
    save(forest, tmp_path)

    with pytest.raises(ModelLoadError, match="No MLmodel file"):
        load_predictor(tmp_path, "mlflow")


def test_unknown_flavor_lists_the_supported_ones(tmp_path):
    with pytest.raises(ModelLoadError, match=r"'xgboost'.*sklearn, onnx, mlflow"):
        load_predictor(tmp_path, "xgboost")


def test_several_model_files_prefer_model_joblib(tmp_path, cancer, forest, logistic_pipeline):
    rows, _ = cancer
    save(logistic_pipeline, tmp_path, "other.joblib")
    save(forest, tmp_path, "model.joblib")

    predictor = load_predictor(tmp_path, "sklearn", prefer_onnx=False)

    assert np.array_equal(predictor.predict(rows)["probability"], forest.predict_proba(rows))


def test_several_model_files_without_a_preferred_name_are_listed(tmp_path, forest):
    save(forest, tmp_path, "a.joblib")
    save(forest, tmp_path, "b.pkl")

    with pytest.raises(ModelLoadError, match=r"a\.joblib, b\.pkl"):
        load_predictor(tmp_path, "sklearn")


def test_example_of_the_wrong_width_is_a_load_error(tmp_path, forest):
    save(forest, tmp_path)

    with pytest.raises(ModelLoadError, match="expects rows of 30 columns"):
        load_predictor(tmp_path, "sklearn", example=np.zeros((2, 4)))


@pytest.mark.parametrize("prefer_onnx", [True, False])
def test_wrong_number_of_columns_is_a_value_error(tmp_path, cancer, forest, prefer_onnx):
    rows, _ = cancer
    save(forest, tmp_path)
    predictor = load_predictor(tmp_path, "sklearn", prefer_onnx=prefer_onnx)

    with pytest.raises(ValueError, match=r"\(2, 29\)"):
        predictor.predict(rows[:2, :29])
    with pytest.raises(ValueError, match="shape"):
        predictor.predict(rows[0])
