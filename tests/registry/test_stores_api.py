"""/api/v1/stores: staff declare stores; members may not (issue 10, finding 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from modelyard.accounts.tokens import create_token
from modelyard.audit.models import AuditEvent
from modelyard.registry.models import DeclaredStore
from tests.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(teams: Any) -> Api:
    return Api(create_token(User.objects.create_user("sam", is_staff=True), "t")[1])


def test_staff_declare_list_and_remove(staff: Api, artifact_root: Path, tmp_path: Path) -> None:
    lake = (tmp_path / "lake").as_uri()
    response = staff.post("/stores", {"uri": lake, "teams": ["red"], "allow_delete": True})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["uri"] == lake + "/"
    assert created["teams"] == ["red"]
    assert AuditEvent.objects.filter(action="store.declared").count() == 1

    listed = staff.get("/stores").json()
    assert [s["source"] for s in listed] == ["artifact root", "declared"]
    assert listed[0]["uri"] == artifact_root.as_uri() + "/"
    assert listed[1]["id"] == created["id"]

    assert staff.post("/stores", {"uri": lake + "/"}).status_code == 409  # same place
    assert staff.delete(f"/stores/{created['id']}").status_code == 204
    assert not DeclaredStore.objects.exists()
    assert AuditEvent.objects.filter(action="store.removed").count() == 1
    assert staff.delete(f"/stores/{created['id']}").status_code == 404


def test_every_team_when_teams_is_absent(staff: Api, tmp_path: Path) -> None:
    response = staff.post("/stores", {"uri": (tmp_path / "all").as_uri()})
    assert response.json()["teams"] is None
    assert DeclaredStore.objects.get().all_teams


def test_members_and_owners_may_not(alice: Api, mallory: Api, tmp_path: Path) -> None:
    for user in (alice, mallory):
        response = user.post("/stores", {"uri": (tmp_path / "x").as_uri()})
        assert response.status_code == 403
        assert "Only platform staff can declare stores" in response.json()["message"]
        assert user.get("/stores").status_code == 403
    assert not DeclaredStore.objects.exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [("file:///", "holds MODELYARD_HOME"), ("gopher://x/", "unknown scheme"), ("lake", "not a")],
)
def test_places_that_cannot_be_stores_are_400(staff: Api, uri: str, message: str) -> None:
    response = staff.post("/stores", {"uri": uri})
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_an_unknown_team_is_404(staff: Api, tmp_path: Path) -> None:
    response = staff.post("/stores", {"uri": (tmp_path / "x").as_uri(), "teams": ["nosuch"]})
    assert response.status_code == 404


def test_staff_declare_stores_in_the_admin(client: Any, teams: Any, tmp_path: Path) -> None:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    assert client.get("/admin/registry/declaredstore/").status_code == 200
    form = {"uri": "file:///", "all_teams": "on", "description": ""}
    response = client.post("/admin/registry/declaredstore/add/", form)
    assert response.status_code == 200  # the form again, with the error
    assert b"holds MODELYARD_HOME" in response.content
    form["uri"] = (tmp_path / "lake" / "." / "x" / "..").as_uri()
    response = client.post("/admin/registry/declaredstore/add/", form)
    assert response.status_code == 302, response.content
    assert DeclaredStore.objects.get().uri == (tmp_path / "lake").as_uri() + "/"
    assert AuditEvent.objects.get(action="store.declared").details["teams"] == "all"


def test_members_ask_whether_their_team_may_read_a_location(
    alice: Api, mallory: Api, declare_store: Any, tmp_path: Path
) -> None:
    declare_store((tmp_path / "lake").as_uri(), teams=["red"])
    inside = (tmp_path / "lake" / "events").as_uri()
    outside = (tmp_path / "elsewhere").as_uri()

    allowed = alice.post("/stores/usable", {"team": "red", "uri": inside})
    refused = alice.post("/stores/usable", {"team": "red", "uri": outside})
    other_team = alice.post("/stores/usable", {"team": "blue", "uri": inside})
    stranger = mallory.post("/stores/usable", {"team": "red", "uri": inside})

    assert allowed.status_code == 200, allowed.content
    assert allowed.json() == {"team": "red", "uri": inside}
    assert refused.status_code == 403
    assert "is not under a declared store that team 'red' may use" in refused.json()["message"]
    assert other_team.status_code == 403  # alice is not on blue
    assert stranger.status_code == 403
    assert "not a member of team 'red'" in stranger.json()["message"]
