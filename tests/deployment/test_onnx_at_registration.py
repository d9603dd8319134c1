"""scikit-learn models are converted to ONNX once registered, and served from that file."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.audit.models import AuditEvent
from modelyard.deployment.tasks import convert_version_to_onnx
from modelyard.loading import ONNX_ARTIFACT
from modelyard.serving.loading import fetch_files, load_version

pytestmark = pytest.mark.django_db


def test_a_registered_sklearn_model_gets_a_checked_onnx_copy(
    register_model, estimators, cancer, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        version = register_model(estimators["good"])

    assert version.artifacts.filter(name=ONNX_ARTIFACT, uploaded=True).exists()
    assert AuditEvent.objects.filter(action="model.artifact_derived").count() == 1
    loaded = load_version(version)
    assert loaded.predictor.flavor == "onnx"
    # Served from the registered conversion, not converted again on this machine.
    assert not (fetch_files(version) / ".modelyard" / "model.onnx").exists()
    expected = estimators["good"].predict_proba(cancer[0][:20])
    got = loaded.predictor.predict(cancer[0][:20])["probability"]
    assert np.allclose(got, expected, atol=1e-4)
    assert convert_version_to_onnx(version.pk) == "already converted"


def test_files_that_are_no_model_are_left_alone(
    register_model, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        version = register_model(b"not a model")

    assert list(version.artifacts.values_list("name", flat=True)) == ["model.joblib"]
    assert convert_version_to_onnx(version.pk).startswith("not converted")


def test_data_sets_and_other_flavors_are_not_queued(
    register_model, estimators, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        version = register_model(estimators["good"], flavor="custom")

    assert not version.artifacts.filter(name=ONNX_ARTIFACT).exists()
