"""Refusals are on the audit trail: each 403 writes an `access.denied` row, a flood at most a
fixed number a minute with the rest counted, and only staff and the team's owners read them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from modelyard.accounts.tokens import create_token
from modelyard.audit.models import ACCESS_DENIED, AuditEvent
from modelyard.audit.services import record_denied
from tests.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(teams) -> Api:
    user = User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)
    return Api(create_token(user, "test")[1])


def denials(actor: str = "") -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(action=ACCESS_DENIED).order_by("id")
    return list(rows.filter(actor_label=actor) if actor else rows)


def test_cross_team_writes_are_refused_and_audited(carol, mallory, settings) -> None:
    settings.AUDIT_DENIALS_PER_MINUTE = 100
    carol.post("/models", {"team": "blue", "name": "churn"})
    statuses = [
        mallory.patch("/models/blue/churn", {"description": f"try {i}"}).status_code
        for i in range(21)
    ]
    assert statuses == [403] * 21
    rows = denials("mallory")
    assert len(rows) == 21
    assert rows[0].actor.username == "mallory"
    assert rows[0].team.name == "blue"
    assert rows[0].details["attempted"] == "change blue/churn"
    assert rows[0].details["target"] == "PATCH /api/v1/models/blue/churn"
    assert "not a member of team 'blue'" in rows[0].reason


def test_owner_and_staff_refusals_are_audited(bob, alice, red) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    assert bob.delete("/teams/red/members/alice").status_code == 403  # owners only
    assert bob.put("/lifecycle/policies", {}).status_code == 403  # staff only
    attempted = [row.details["attempted"] for row in denials("bob")]
    assert attempted == ["remove members", "change lifecycle policies"]
    assert denials("bob")[0].team == red
    assert denials("bob")[1].team is None


def test_a_flood_writes_a_bounded_number_of_rows_and_counts_the_rest(mallory, settings) -> None:
    settings.AUDIT_DENIALS_PER_MINUTE = 20
    with time_machine.travel(timezone.now().replace(second=1), tick=False) as clock:
        for _ in range(21):
            assert mallory.put("/teams/red/members/mallory", {"role": "owner"}).status_code == 403
        assert len(denials("mallory")) == 20  # 21 refused, 20 written, 1 counted
        clock.shift(timedelta(minutes=1))
        mallory.put("/teams/red/members/mallory", {"role": "owner"})
    rows = denials("mallory")
    assert len(rows) == 21
    assert rows[-1].details["left_out"] == 1
    assert "left_out" not in rows[0].details


def test_counting_is_per_actor(teams, settings) -> None:
    settings.AUDIT_DENIALS_PER_MINUTE = 2
    for _ in range(5):
        record_denied(teams["mallory"], "probe", "x", teams["red"])
    assert record_denied(teams["bob"], "probe", "x", teams["blue"]) is not None
    assert len(denials("mallory")) == 2
    assert len(denials("bob")) == 1


def test_owners_read_their_teams_refusals_staff_all_members_none(
    alice, bob, carol, mallory, staff
) -> None:
    mallory.put("/teams/red/members/mallory", {"role": "owner"})
    mallory.put("/teams/blue/members/mallory", {"role": "owner"})

    def seen(api: Api) -> set[str]:
        body = api.get("/audit", action=ACCESS_DENIED).json()
        return {item["team"] for item in body["items"]}

    assert seen(staff) == {"red", "blue"}
    assert seen(alice) == {"red"}  # owner of red
    assert seen(carol) == {"blue"}
    assert seen(bob) == set()  # a member of red, not an owner
    assert seen(mallory) == set()


def test_other_audit_rows_stay_readable_by_everyone(alice, mallory) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    actions = {item["action"] for item in mallory.get("/audit").json()["items"]}
    assert "model.created" in actions
