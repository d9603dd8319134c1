"""A registered model's code runs only in a sandbox: at conversion and in the gate.

The model is a crafted pickle (tests/loading/crafted.py) that records what its code can
reach. Before the sandbox, the conversion unpickled it inside the worker, as root, with the
database URL and the secret key in its environment.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from modelyard.deployment.services import promote
from modelyard.deployment.tasks import convert_version_to_onnx
from modelyard.loading import ONNX_ARTIFACT
from tests.loading import crafted

pytestmark = pytest.mark.django_db


@pytest.fixture
def secrets(monkeypatch):
    for name, value in crafted.SECRETS.items():
        monkeypatch.setenv(name, value)


def test_the_conversion_after_registration_runs_the_pickle_in_a_sandbox(
    register_model, estimators, secrets
):
    with crafted.report_folder() as reports:
        snooping = crafted.snooping(estimators["good"], reports, settings.HOME)
        version = register_model(crafted.dumped(snooping))

        outcome = convert_version_to_onnx(version.pk)
        report = crafted.read_report(reports)

    crafted.assert_sandboxed(report, settings.HOME)
    assert outcome == "converted"
    assert version.artifacts.filter(name=ONNX_ARTIFACT).exists()


def test_the_gate_runs_candidate_and_holder_in_a_sandbox(
    teams, gated, register_model, estimators, secrets
):
    with crafted.report_folder() as reports:
        snooping = crafted.snooping(estimators["good"], reports, settings.HOME)
        first = register_model(crafted.dumped(snooping))
        promote(teams["alice"], gated, first, "production")
        as_candidate = crafted.read_report(reports)
        (reports / "report.json").unlink()

        second = register_model(estimators["good"])
        promote(teams["alice"], gated, second, "production", force=True, reason="test")
        as_holder = crafted.read_report(reports)

    crafted.assert_sandboxed(as_candidate, settings.HOME)
    crafted.assert_sandboxed(as_holder, settings.HOME)


def test_a_conversion_over_the_time_limit_is_stopped_with_a_clear_error(
    register_model, monkeypatch
):
    monkeypatch.setenv("MODELYARD_SANDBOX_TIMEOUT_SECONDS", "2")
    version = register_model(crafted.dumped(crafted.sleeping(600)))

    outcome = convert_version_to_onnx(version.pk)

    assert outcome.startswith("not converted: red/churn:1: convert took longer than 2 s")
    assert not version.artifacts.filter(name=ONNX_ARTIFACT).exists()
