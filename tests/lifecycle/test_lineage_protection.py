"""Protection follows lineage and every alias; owners and the lifecycle share the rule.

Issue 11 finding 1 (a production model's training and evaluation data were noticed) and
issue 16 finding 1 (a version behind a `canary` alias was deletable by the lifecycle while a
manual delete refused it, under another audit action).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from modelyard.audit.models import AuditEvent
from modelyard.deployment.models import GateSettings
from modelyard.lib.errors import Conflict
from modelyard.registry import protection
from modelyard.registry.models import Alias, AssetVersion, LifecycleState, LineageEdge
from modelyard.registry.services import remove_alias, schedule_deletion
from tests.lifecycle.conftest import register, state

pytestmark = pytest.mark.django_db


def _alias(version: AssetVersion, name: str) -> None:
    # The raw alias endpoint refuses environment aliases on models (they go through the
    # gate); the rule under test is the registry's, so set the row directly.
    Alias.objects.create(asset=version.asset, name=name, version=version)


@pytest.fixture
def trained(alice, clock, artifact_root) -> dict[str, AssetVersion]:
    """demo: data:1 -> features:1 -> model:1 (trained on features, which derive from data)."""
    register(alice, "raw", clock.start, kind="datasets")
    register(alice, "feats", clock.start, kind="featuresets")
    register(alice, "churn", clock.start)
    data, feats, model = (
        AssetVersion.objects.get(asset__name=name) for name in ("raw", "feats", "churn")
    )
    LineageEdge.objects.create(downstream=feats, upstream=data, relation="derived_from")
    LineageEdge.objects.create(downstream=model, upstream=feats, relation="trained_on")
    return {"data": data, "feats": feats, "model": model}


def test_the_upstream_of_a_production_model_is_never_noticed(trained, clock) -> None:
    _alias(trained["model"], "production")
    result = clock.step(365)
    assert result.planned == []
    assert {state(v) for v in trained.values()} == {LifecycleState.ACTIVE}


def test_why_a_version_is_protected_is_said_in_words(trained) -> None:
    _alias(trained["model"], "production")
    assert protection.reasons(trained["feats"]) == [
        "training data of red/churn:1 (production alias)"
    ]
    assert protection.reasons(trained["data"]) == [
        "upstream of red/churn:1 (production alias), via red/feats:1"
    ]
    assert protection.reasons(trained["model"]) == ["production alias"]


def test_gate_evaluation_data_is_protected(trained, clock) -> None:
    GateSettings.objects.create(asset=trained["model"].asset, evaluation_data=trained["data"])
    result = clock.step(365)
    assert trained["data"].pk not in {p.version_id for p in result.planned}
    assert protection.reasons(trained["data"]) == ["evaluation data of red/churn's promotion gate"]


@pytest.mark.parametrize("alias", ["canary", "production"])
def test_any_alias_protects_from_both_deleters_with_one_audit_action(trained, clock, alias) -> None:
    model = trained["model"]
    _alias(model, alias)
    clock.step(31)
    clock.step(51)
    clock.step(62)
    assert state(model) == LifecycleState.ACTIVE
    with pytest.raises(Conflict, match=f"{alias} alias"):
        schedule_deletion("owner", model, reason="cleanup")
    assert state(model) == LifecycleState.ACTIVE


def test_manual_and_lifecycle_deletions_write_the_same_audit_action(trained, clock) -> None:
    schedule_deletion("owner", trained["model"], reason="cleanup")
    clock.step(31)
    clock.step(51)
    clock.step(62)
    actions = set(
        AuditEvent.objects.filter(action__endswith="deletion_scheduled").values_list(
            "action", "actor_label"
        )
    )
    assert actions == {
        ("model.deletion_scheduled", "owner"),
        ("featureset.deletion_scheduled", "system:lifecycle"),
        ("dataset.deletion_scheduled", "system:lifecycle"),
    }


def test_the_unused_clock_starts_when_protection_ends(trained, clock) -> None:
    model = trained["model"]
    _alias(model, "production")
    assert clock.step(99).planned == []  # protected all along, however old its last use
    remove_alias("owner", model.asset, "production")  # protection ends now: day 100
    ended = AssetVersion.objects.get(pk=trained["data"].pk).protected_at
    assert ended is not None
    assert abs(ended - timezone.now()) < timedelta(minutes=1)
    # 25 days after protection ended: not yet 30 days unused, whatever last_accessed_at says.
    assert clock.scan(125, dry_run=True).planned == []
    due = {p.version_id for p in clock.scan(131, dry_run=True).planned}
    assert due == {v.pk for v in trained.values()}


def test_a_noticed_upstream_is_reset_when_its_model_is_promoted(trained, clock) -> None:
    clock.step(31)
    assert state(trained["data"]) == LifecycleState.NOTICED
    _alias(trained["model"], "production")
    result = clock.step(32)
    assert {p.action for p in result.planned} == {"reset"}
    assert {state(v) for v in trained.values()} == {LifecycleState.ACTIVE}


def test_nothing_the_demo_production_and_staging_models_depend_on_is_ever_noticed() -> None:
    """Acceptance: `lifecycle scan --dry-run --at` a year ahead on a fresh demo."""
    from django.contrib.auth.models import User

    from modelyard.cli.demo import seed_demo
    from modelyard.lifecycle.scan import scan

    seed_demo(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    served = AssetVersion.objects.filter(aliases__name__in=["production", "staging"])
    depended_on = protection.upstream_closure(served.values_list("id", flat=True))
    assert len(depended_on) > served.count()  # the data set and feature set are in it
    noticed = {
        p.version_id for p in scan(timezone.now() + timedelta(days=365), dry_run=True).planned
    }
    assert noticed, "the demo's unpromoted model versions are due by then"
    assert noticed.isdisjoint(depended_on)


def test_a_gate_reading_its_evaluation_data_counts_as_a_use(trained, artifact_root) -> None:
    from modelyard.registry.access import tracker
    from modelyard.serving.loading import fetch_files

    before = AssetVersion.objects.get(pk=trained["data"].pk).last_accessed_at
    fetch_files(trained["data"])  # how the gate, scoring and jobs read a version's bytes
    tracker().flush()
    assert AssetVersion.objects.get(pk=trained["data"].pk).last_accessed_at > before


def test_api_and_version_page_say_why_a_version_is_protected(alice, trained, client) -> None:
    _alias(trained["model"], "production")
    body = alice.get("/featuresets/red/feats/versions/1").json()
    assert body["protected_by"] == ["training data of red/churn:1 (production alias)"]
    client.force_login(User.objects.get(username="alice"))
    page = client.get("/featuresets/red/feats/1/").content.decode()
    assert "training data of red/churn:1 (production alias)" in page


@pytest.mark.parametrize("protector", ["alias", "pin", "hold", "gate", "none"])
def test_a_page_of_versions_is_asked_at_once_with_the_same_answer(
    trained, protector, django_assert_max_num_queries
) -> None:
    """`protected_among` (the listings' batch question) agrees with `reasons` (one version)."""
    model, data = trained["model"], trained["data"]
    if protector == "alias":
        _alias(model, "staging")
    elif protector == "pin":
        AssetVersion.objects.filter(pk=model.pk).update(
            pinned_until=timezone.now() + timedelta(days=3)
        )
    elif protector == "hold":
        AssetVersion.objects.filter(pk=trained["feats"].pk).update(legal_hold=True)
    elif protector == "gate":
        GateSettings.objects.create(asset=model.asset, evaluation_data=data)
    ids = [v.pk for v in trained.values()]
    with django_assert_max_num_queries(7):  # three lineage levels, three kinds of root
        among = protection.protected_among(ids)
    fresh = AssetVersion.objects.select_related("asset__team").filter(pk__in=ids)
    assert among == {v.pk for v in fresh if protection.reasons(v)}
    assert (among == set()) == (protector == "none")
