"""Aliases in production or staging, pins, legal holds and the newest N are never touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from modelyard.lifecycle import services
from modelyard.registry.access import write_last_access
from modelyard.registry.models import AssetVersion, LifecycleState
from modelyard.registry.services import set_alias
from tests.lifecycle.conftest import register, state

pytestmark = pytest.mark.django_db


def test_production_alias_protects(alice, stale, clock) -> None:
    set_alias("system:test", stale[0].asset, "production", stale[0])
    result = clock.step(61)
    assert [p.version_id for p in result.planned] == [stale[1].pk]


def test_pin_and_hold_protect_and_reset_a_noticed_version(stale, clock) -> None:
    clock.step(31)
    services.pin("ops", stale[0], timezone.now() + timedelta(days=365))
    services.hold("ops", stale[1], True, reason="case 42")
    assert [state(v) for v in stale] == [LifecycleState.ACTIVE] * 2
    assert clock.step(200).planned == []


def test_keep_newest_protects(alice, clock, artifact_root) -> None:
    for _ in range(3):
        register(alice, "churn", clock.start)
    services.set_policy("ops", kind="model", keep_newest=2)
    result = clock.step(31)
    assert [p.version_id for p in result.planned] == [AssetVersion.objects.get(version=1).pk]


def test_access_after_the_notice_resets_the_cycle(stale, clock) -> None:
    clock.step(31)
    write_last_access({stale[0].pk: clock.at(40).timestamp()})
    result = clock.step(51)
    assert state(stale[0]) == LifecycleState.ACTIVE
    assert state(stale[1]) == LifecycleState.FINAL_NOTICE
    assert {p.action for p in result.planned if p.version_id == stale[0].pk} == {"reset"}


def test_access_racing_the_deletion_wins(stale, clock, django_capture_on_commit_callbacks) -> None:
    from modelyard.lifecycle.policies import PolicyBook
    from modelyard.lifecycle.recipients import RecipientBook
    from modelyard.lifecycle.scan import Action, _apply, plan

    clock.step(31)
    clock.step(51)
    at = clock.at(62)
    due = [p for batch in plan(at, PolicyBook()) for p in batch]
    assert {p.action for p in due} == {Action.DELETE}
    write_last_access({stale[0].pk: clock.at(61.9).timestamp()})  # used after planning
    with django_capture_on_commit_callbacks(execute=True):
        applied = _apply(due, at, RecipientBook())
    assert applied["delete"] == 1
    assert state(stale[0]) == LifecycleState.FINAL_NOTICE
    assert state(stale[1]) == LifecycleState.DELETED


def test_policies_per_team_and_kind(alice, carol, clock, artifact_root, teams) -> None:
    register(alice, "churn", clock.start)
    register(carol, "churn", clock.start, team="blue")
    services.set_policy("ops", team=teams["blue"], first=5, final=7, delete=9, grace=1)
    result = clock.scan(6, dry_run=True)
    assert [p.team_id for p in result.planned] == [teams["blue"].pk]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"first": 50, "final": 30, "delete": 60}, "Thresholds must grow"),
        ({"grace": 0}, "Grace must be at least 1 day"),
        ({"kind": "robot"}, "Unknown kind"),
    ],
)
def test_policy_validation(db, values, message) -> None:
    from modelyard.lib.errors import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        services.set_policy("ops", **values)
