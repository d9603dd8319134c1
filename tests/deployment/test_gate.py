"""The promotion gate through the API: better passes, worse is refused with its report."""

from __future__ import annotations

import pytest

from modelyard.audit.models import AuditEvent
from modelyard.deployment.models import Promotion
from modelyard.registry.models import Alias

pytestmark = pytest.mark.django_db


def promote(api, version: int, **body):
    return api.post("/models/red/churn/promote", {"version": version, **body})


def holder() -> int | None:
    alias = Alias.objects.filter(name="production").select_related("version").first()
    return alias.version.version if alias else None


def test_better_model_passes_and_moves_the_alias(alice, gated, register_model, estimators):
    register_model(estimators["weak"])
    register_model(estimators["good"])
    assert promote(alice, 1).status_code == 200

    response = promote(alice, 2, reason="better on holdout")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["from_version"], body["to_version"], body["outcome"]) == (1, 2, "promoted")
    champion = body["report"]["checks"][1]["details"]
    assert champion["candidate_score"] > champion["holder_score"]
    assert (champion["data"], champion["rows"]) == ("red/holdout:1", 569)
    assert holder() == 2


def test_worse_model_is_refused_with_its_report(alice, gated, register_model, estimators):
    register_model(estimators["good"])
    register_model(estimators["weak"])
    promote(alice, 1)

    response = promote(alice, 2)

    assert response.status_code == 409
    body = response.json()
    assert "did not pass the gate" in body["message"]
    champion = body["report"]["checks"][1]
    assert not champion["passed"]
    assert champion["details"]["candidate_score"] < champion["details"]["holder_score"]
    assert champion["details"]["metric"] == "roc_auc"
    assert holder() == 1
    refused = Promotion.objects.get(outcome="refused")
    assert refused.to_version.version == 2
    assert refused.report["passed"] is False
    assert AuditEvent.objects.filter(action="model.promotion_refused").count() == 1


def test_tolerance_lets_a_slightly_worse_model_through(alice, gated, register_model, estimators):
    register_model(estimators["good"])
    register_model(estimators["weak"])
    promote(alice, 1)
    assert alice.put("/models/red/churn/gate", {"tolerance": 0.2}).status_code == 200

    assert promote(alice, 2).status_code == 200
    assert holder() == 2


def test_force_needs_an_owner_and_a_reason(alice, bob, gated, register_model, estimators):
    register_model(estimators["good"])
    register_model(estimators["weak"])
    promote(alice, 1)

    assert promote(bob, 2, force=True, reason="trust me").status_code == 403
    assert promote(alice, 2, force=True).status_code == 400
    response = promote(alice, 2, force=True, reason="hotfix for a data bug")

    assert response.status_code == 200
    assert response.json()["outcome"] == "forced"
    assert holder() == 2
    event = AuditEvent.objects.get(action="model.forced")
    assert event.reason == "hotfix for a data bug"
    assert event.details["report"]["passed"] is False


def test_members_promote_through_a_passing_gate_outsiders_cannot(
    bob, mallory, gated, register_model, estimators
):
    register_model(estimators["good"])

    assert promote(mallory, 1).status_code == 403
    assert promote(bob, 1).status_code == 200
    assert holder() == 1


def test_rollback_walks_back_the_promotions(alice, bob, gated, register_model, estimators):
    for _ in range(3):
        register_model(estimators["good"])
    for version in (1, 2, 3):
        assert promote(alice, version).status_code == 200, promote(alice, version).json()

    first = bob.post("/models/red/churn/rollback", {"to": "production", "reason": "errors"})
    assert first.status_code == 200
    assert (first.json()["from_version"], first.json()["to_version"]) == (3, 2)
    assert bob.post("/models/red/churn/rollback", {"to": "production"}).json()["to_version"] == 1
    last = bob.post("/models/red/churn/rollback", {"to": "production"})

    assert last.status_code == 409
    assert "no earlier holder" in last.json()["message"]
    assert holder() == 1
    outcomes = [p["outcome"] for p in alice.get("/models/red/churn/promotions").json()]
    assert outcomes == ["rolled_back", "rolled_back", "promoted", "promoted", "promoted"]


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"input_example": None}, "no input example"),
        ({"input_example": [[1.0, 2.0]]}, "does not fit its signature"),
        ({"signature": {}}, "declares no inputs"),
        (
            {"signature": {"inputs": [{"name": f"f{i}"} for i in range(30)]}},
            "declares no outputs",
        ),
        (
            {
                "signature": {
                    "inputs": [{"name": f"f{i}"} for i in range(30)],
                    "outputs": [{"name": "probability", "shape": [-1, 3]}],
                }
            },
            "declared [-1, 3]",
        ),
    ],
)
def test_signature_check_refuses(alice, gated, register_model, estimators, overrides, says):
    register_model(estimators["good"], **overrides)

    response = promote(alice, 1)

    assert response.status_code == 409
    signature = response.json()["report"]["checks"][0]
    assert signature["name"] == "signature"
    assert not signature["passed"]
    assert says in signature["message"]
    assert holder() is None


def test_unloadable_files_fail_the_gate_not_the_server(alice, gated, register_model):
    register_model(b"this is not a model")

    response = promote(alice, 1)

    assert response.status_code == 409
    assert not response.json()["report"]["checks"][0]["passed"]


def test_a_holder_without_evaluation_data_cannot_be_challenged(
    alice, model, register_model, estimators
):
    register_model(estimators["good"])
    register_model(estimators["good"])
    assert promote(alice, 1).status_code == 200  # nothing to be worse than

    response = promote(alice, 2)

    assert response.status_code == 409
    assert "--evaluate-on" in response.json()["message"]


def test_gate_settings_are_checked_and_owners_only(alice, bob, model, register_model, estimators):
    register_model(estimators["good"])

    assert alice.get("/models/red/churn/gate").json()["metric"] == ""
    assert bob.put("/models/red/churn/gate", {"tolerance": 0.1}).status_code == 403
    unknown = alice.put("/models/red/churn/gate", {"metric": "vibes"})
    assert unknown.status_code == 400
    assert "roc_auc" in unknown.json()["message"]
    not_data = alice.put("/models/red/churn/gate", {"evaluate_on": "red/churn:1"})
    assert not_data.status_code == 404
    assert alice.put("/models/red/churn/gate", {"metric": "accuracy"}).json()["metric"] == (
        "accuracy"
    )


def test_environment_aliases_cannot_be_moved_around_the_gate(
    alice, model, register_model, estimators
):
    register_model(estimators["weak"])

    response = alice.put("/models/red/churn/aliases/production", {"version": 1})

    assert response.status_code == 409
    assert "promote" in response.json()["message"]
    assert holder() is None
