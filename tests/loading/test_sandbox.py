"""Model code runs in a sandbox: no secrets, no writes outside its folder, limits that hold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from modelyard.loading import OnnxPredictor, SandboxError
from modelyard.loading.sandbox import Limits, SandboxedPredictor, convert_in_sandbox
from tests.loading import crafted

LIMITS = Limits(memory_mb=4096, timeout_seconds=120)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def logistic(cancer):
    rows, labels = cancer
    return LogisticRegression(max_iter=3000).fit(rows, labels)


@pytest.fixture
def secrets(monkeypatch):
    for name, value in crafted.SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def home(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def test_a_crafted_pickle_runs_without_secrets_or_write_access(
    tmp_path, cancer, logistic, secrets, home
):
    rows, _ = cancer
    with crafted.report_folder() as reports:
        model = crafted.save(crafted.snooping(logistic, reports, home), tmp_path / "model")
        with SandboxedPredictor(model, "sklearn", name="red/evil:1", limits=LIMITS) as loaded:
            outputs = loaded.predict(rows[:10])
        report = crafted.read_report(reports)

    crafted.assert_sandboxed(report, home)
    assert np.array_equal(outputs["label"], logistic.predict(rows[:10]))
    assert np.allclose(outputs["probability"], logistic.predict_proba(rows[:10]), atol=1e-4)


def test_the_conversion_runs_the_pickle_in_the_sandbox(tmp_path, cancer, logistic, secrets, home):
    with crafted.report_folder() as reports:
        model = crafted.save(crafted.snooping(logistic, reports, home), tmp_path / "model")
        onnx_bytes = convert_in_sandbox(
            model, "sklearn", name="red/evil:1", limits=LIMITS, example=cancer[0][:5]
        )
        report = crafted.read_report(reports)

    crafted.assert_sandboxed(report, home)
    assert onnx_bytes is not None
    converted = OnnxPredictor(onnx_bytes).predict(cancer[0][:10])
    assert np.array_equal(converted["label"], logistic.predict(cancer[0][:10]))


def test_a_model_over_the_time_limit_is_stopped_with_a_clear_error(tmp_path):
    model = crafted.save(crafted.sleeping(600), tmp_path / "model")
    limits = Limits(timeout_seconds=2)

    with pytest.raises(SandboxError, match=r"red/slow:1: load took longer than 2 s") as caught:
        SandboxedPredictor(model, "sklearn", name="red/slow:1", limits=limits)

    assert "MODELYARD_SANDBOX_TIMEOUT_SECONDS" in str(caught.value)


def test_a_model_over_the_memory_limit_fails_naming_the_limit(tmp_path):
    model = crafted.save(crafted.hungry(8), tmp_path / "model")

    with pytest.raises(SandboxError, match="MemoryError") as caught:
        SandboxedPredictor(model, "sklearn", name="red/big:1", limits=Limits(memory_mb=1024))

    assert "MODELYARD_SANDBOX_MEMORY_MB" in str(caught.value)


def test_what_the_model_code_raises_comes_back_with_the_model_name(tmp_path):
    model = crafted.save(crafted.raising("the model is broken"), tmp_path / "model")

    with pytest.raises(SandboxError, match=r"red/broken:1: load failed: .*the model is broken"):
        SandboxedPredictor(model, "sklearn", name="red/broken:1", limits=LIMITS)


def test_a_model_that_kills_its_process_is_an_error_not_a_hang(tmp_path):
    model = crafted.save(crafted._Reduced(eval, "__import__('os')._exit(3)"), tmp_path / "model")

    with pytest.raises(SandboxError, match="exit status 3"):
        SandboxedPredictor(model, "sklearn", name="red/quits:1", limits=LIMITS)


def test_the_sandbox_folder_is_removed_when_it_closes(tmp_path, logistic):
    model = crafted.save(logistic, tmp_path / "model")
    loaded = SandboxedPredictor(model, "sklearn", name="red/fine:1", limits=LIMITS)
    folder = loaded.sandbox._folder
    assert (folder / "model" / "model.joblib").is_file()

    loaded.close()

    assert not folder.exists()
