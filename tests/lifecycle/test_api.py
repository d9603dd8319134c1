"""The lifecycle through the REST API."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from modelyard.accounts.tokens import create_token
from modelyard.registry.models import LifecycleState
from tests.conftest import Api
from tests.lifecycle.conftest import state

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(teams) -> Api:
    user = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    return Api(create_token(user, "t")[1])


def test_members_keep_and_pin_outsiders_cannot(alice, mallory, stale, clock) -> None:
    clock.step(31)
    response = alice.post("/lifecycle/model/red/churn/versions/1/keep")
    assert response.status_code == 200, response.content
    assert response.json()["lifecycle_state"] == "active"
    assert mallory.post("/lifecycle/model/red/fraud/versions/1/keep").status_code == 403
    pinned = alice.post(
        "/lifecycle/model/red/fraud/versions/1/pin", {"until": "2099-01-01T00:00:00Z"}
    )
    assert pinned.json()["pinned_until"].startswith("2099-01-01")
    past = alice.post(
        "/lifecycle/model/red/fraud/versions/1/pin", {"until": "2001-01-01T00:00:00Z"}
    )
    assert past.status_code == 400
    assert "lies in the past" in past.json()["message"]


def test_holds_and_policies_are_for_staff(alice, staff, stale) -> None:
    body = {"on": True, "reason": "case 9"}
    assert alice.post("/lifecycle/model/red/churn/versions/1/hold", body).status_code == 403
    held = staff.post("/lifecycle/model/red/churn/versions/1/hold", body)
    assert held.json()["legal_hold"] is True
    policy = {
        "kind": "dataset",
        "first_notice_days": 7,
        "final_notice_days": 14,
        "delete_after_days": 21,
        "grace_days": 3,
    }
    assert alice.put("/lifecycle/policies", policy).status_code == 403
    saved = staff.put("/lifecycle/policies", policy)
    assert saved.json()["scope"] == "dataset"
    bad = staff.put("/lifecycle/policies", {**policy, "final_notice_days": 3})
    assert bad.status_code == 400
    assert "Thresholds must grow" in bad.json()["message"]
    assert [p["scope"] for p in staff.get("/lifecycle/policies").json()] == ["dataset"]


def test_dry_run_scan_through_the_api(staff, stale, clock) -> None:
    response = staff.post("/lifecycle/scan", {"dry_run": True, "at": clock.at(31).isoformat()})
    assert response.status_code == 200, response.content
    assert sorted(p["ref"] for p in response.json()["planned"]) == ["red/churn:1", "red/fraud:1"]
    assert state(stale[0]) == LifecycleState.ACTIVE
    future = staff.post("/lifecycle/scan", {"dry_run": False, "at": "2999-01-01T00:00:00Z"})
    assert future.status_code == 400


def test_report(alice, stale, clock, django_capture_on_commit_callbacks) -> None:
    clock.step(31)
    clock.step(51)
    with django_capture_on_commit_callbacks(execute=True):
        clock.step(61.5)
    assert alice.get("/lifecycle/report").json() == [{"team": "red", "store": "file", "bytes": 200}]
