"""Models whose signature names features: the format, the all-or-nothing rule at registration
and at the gate, lineage to the views' feature set versions, and the protection it gives."""

from __future__ import annotations

import io
from typing import Any

import pytest

from modelyard.features.references import FeatureRef, FeatureRefError, feature_inputs
from modelyard.lib.errors import Conflict, InvalidInput
from modelyard.registry import protection
from modelyard.registry import services as registry
from modelyard.registry.models import Alias, Asset, AssetVersion, Kind, LineageEdge
from modelyard.serving.signature import Signature, SignatureError

OUTPUTS = [{"name": "probability", "type": "double", "shape": [-1, 2]}]


def signature(*names: str) -> dict[str, Any]:
    return {"inputs": [{"name": n, "type": "double"} for n in names], "outputs": OUTPUTS}


def register(teams: dict[str, Any], names: tuple[str, ...], team: str = "red") -> AssetVersion:
    asset = Asset.objects.filter(kind=Kind.MODEL, name="by-user", team=teams[team]).first()
    asset = asset or registry.create_asset(teams["alice"], Kind.MODEL, teams[team], "by-user")
    spec = registry.VersionSpec(flavor="sklearn", signature=signature(*names))
    source = registry.ArtifactSource("model.joblib", stream=io.BytesIO(b"x"), size=1)
    return registry.register_version(teams["alice"], asset, spec, [source])


def test_references_are_all_or_nothing() -> None:
    assert feature_inputs(["age", "income"]) is None
    assert feature_inputs(["user_activity:clicks_7d", "blue/visits:count_1d"]) == (
        FeatureRef(None, "user_activity", "clicks_7d"),
        FeatureRef("blue", "visits", "count_1d"),
    )
    with pytest.raises(FeatureRefError, match=r"mixes features from the store .* with inputs"):
        feature_inputs(["user_activity:clicks_7d", "age"])
    with pytest.raises(FeatureRefError, match="'Bad:Name' is not a feature reference"):
        feature_inputs(["Bad:Name"])


def test_the_gate_refuses_a_mixed_signature_in_the_same_words() -> None:
    with pytest.raises(SignatureError, match="A model takes all its inputs from the feature"):
        Signature.parse(signature("user_activity:clicks_7d", "age"))
    parsed = Signature.parse(signature("user_activity:clicks_7d"))
    assert parsed.features == (FeatureRef(None, "user_activity", "clicks_7d"),)
    assert Signature.parse(signature("age")).features is None


@pytest.mark.django_db
def test_registration_records_lineage_to_the_views_versions(teams, applied) -> None:
    views = applied()

    version = register(teams, ("user_activity:clicks_7d", "purchases:purchase_spend"))

    edges = LineageEdge.objects.filter(downstream=version)
    assert {(e.upstream_id, e.relation) for e in edges} == {
        (views["user_activity"].version_id, "uses_features"),
        (views["purchases"].version_id, "uses_features"),
    }
    # The owning team sees who depends on its view.
    downstream = LineageEdge.objects.filter(upstream=views["user_activity"].version_id)
    assert [edge.downstream.ref for edge in downstream] == ["red/by-user:1"]


@pytest.mark.django_db
def test_another_teams_view_is_named_with_its_team(teams, applied) -> None:
    views = applied()

    version = register(teams, ("red/user_activity:clicks_7d",), team="blue")

    assert version.upstream_edges.get().upstream_id == views["user_activity"].version_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("user_activity:clicks_7d", "age"), "A model takes all its inputs from the feature store"),
        (("nothing_here:clicks_7d",), "No feature view red/nothing_here"),
        (("user_activity:no_such",), "has no feature 'no_such'"),
    ],
)
def test_registration_refuses_what_cannot_be_served(teams, applied, names, message) -> None:
    applied()

    with pytest.raises(InvalidInput, match=message):
        register(teams, names)

    assert not AssetVersion.objects.filter(asset__kind=Kind.MODEL).exists()


@pytest.mark.django_db
def test_a_view_version_a_protected_model_uses_is_protected(teams, applied) -> None:
    views = applied()
    used = views["user_activity"].version
    model = register(teams, ("user_activity:clicks_7d",))
    assert used.pk not in protection.protected_ids()

    Alias.objects.create(asset=model.asset, name="production", version=model)

    assert used.pk in protection.protected_ids()
    assert views["purchases"].version_id not in protection.protected_ids()
    assert any("red/by-user:1" in reason for reason in protection.reasons(used))
    with pytest.raises(Conflict):
        registry.schedule_deletion(teams["alice"], used, "tidy up")
