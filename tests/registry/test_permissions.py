"""Everyone signed in reads; members write; owners move aliases and delete."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def churn_v1(alice, artifact_root: Path) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    assert alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x"}, {}).status_code == 201


def test_outsider_can_read_the_catalog(mallory, churn_v1) -> None:
    assert mallory.get("/models").json()["count"] == 1
    assert mallory.get("/models/red/churn/versions/1").status_code == 200


def test_outsider_cannot_write(mallory, carol, churn_v1) -> None:
    for api in (mallory, carol):
        response = api.upload("/models/red/churn/versions/upload", {"m.bin": b"y"}, {})
        assert response.status_code == 403
        assert "not a member of team 'red'" in response.json()["message"]
        assert api.post("/models", {"team": "red", "name": "x"}).status_code == 403
        assert api.patch("/models/red/churn", {"description": "mine"}).status_code == 403


def test_member_writes_but_cannot_move_aliases_or_delete(bob, churn_v1) -> None:
    assert bob.upload("/models/red/churn/versions/upload", {"m.bin": b"y"}, {}).status_code == 201
    response = bob.put("/models/red/churn/aliases/champion", {"version": 1})
    assert response.status_code == 403
    assert "Only owners" in response.json()["message"]
    assert bob.delete("/models/red/churn/versions/1", reason="cleanup").status_code == 403


def test_owner_moves_alias_and_it_is_audited(alice, churn_v1) -> None:
    response = alice.put("/models/red/churn/aliases/champion", {"version": 1, "reason": "go"})
    assert response.status_code == 200
    assert alice.get("/models/red/churn").json()["aliases"] == {"champion": 1}
    resolved = alice.get("/models/red/churn/aliases/champion").json()
    assert resolved["ref"] == "red/churn:1"
    events = alice.get("/audit", action="model.alias_moved").json()["items"]
    assert events[0]["details"] == {"alias": "champion", "from": None, "to": 1}
    assert events[0]["reason"] == "go"


def test_team_owner_manages_members(alice, bob, teams) -> None:
    response = alice.put("/teams/red/members/mallory", {"role": "member"})
    assert response.status_code == 200
    assert "mallory" in [m["username"] for m in response.json()["members"]]
    assert bob.put("/teams/red/members/carol", {"role": "owner"}).status_code == 403


def test_with_team_creation_open_any_user_creates_a_team_and_owns_it(mallory, settings) -> None:
    settings.TEAM_CREATION = "anyone"
    response = mallory.post("/teams", {"name": "green"})
    assert response.status_code == 201
    assert response.json()["members"][0] == {
        "username": "mallory",
        "email": "mallory@example.com",
        "role": "owner",
        "active": True,
    }
    assert mallory.get("/me").json()["teams"] == {"green": "owner"}
