"""MODELYARD_SERVE_ONNX_ONLY: the prediction server loads no pickled model code."""

from __future__ import annotations

import pytest

from modelyard.deployment.tasks import convert_version_to_onnx
from modelyard.loading import ModelLoadError
from modelyard.serving.loading import load_version

pytestmark = pytest.mark.django_db


def test_a_model_without_onnx_conversion_is_refused_with_the_setting_named(
    register_model, estimators, settings
):
    settings.SERVE_ONNX_ONLY = True
    version = register_model(estimators["good"])  # not converted: no worker ran

    with pytest.raises(ModelLoadError, match="MODELYARD_SERVE_ONNX_ONLY=true") as refused:
        load_version(version)

    assert "red/churn:1 is a sklearn model" in str(refused.value)


def test_the_checked_onnx_conversion_is_served(register_model, estimators, settings):
    settings.SERVE_ONNX_ONLY = True
    version = register_model(estimators["good"])
    assert convert_version_to_onnx(version.pk) == "converted"

    assert load_version(version).predictor.flavor == "onnx"


def test_without_the_setting_the_native_model_is_served(register_model, estimators, settings):
    settings.SERVE_ONNX_ONLY = False
    version = register_model(estimators["good"])

    assert load_version(version, prefer_onnx=False).predictor.flavor == "sklearn"
