"""The audit trail: who did what to which version, when and why, one row per change,
written in the change's own transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelyard.audit.models import AuditEvent
from modelyard.registry.models import AssetVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def churn(alice: Any, artifact_root: Path) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x" * 10}, {})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"y" * 20}, {})


def events(api: Any, **filters: Any) -> list[dict[str, Any]]:
    response = api.get("/audit", **filters)
    assert response.status_code == 200, response.content
    return list(response.json()["items"])


def test_registering_a_version_records_who_registered_what(alice: Any, churn: None) -> None:
    rows = AuditEvent.objects.filter(action="model.version_registered").order_by("id")

    assert [(r.actor_label, r.actor.username, r.team.name) for r in rows] == [
        ("alice", "alice", "red"),
        ("alice", "alice", "red"),
    ]
    assert [r.version.version for r in rows] == [1, 2]
    assert [r.details["bytes"] for r in rows] == [10, 20]
    body = events(alice, action="model.version_registered")[0]  # newest first
    assert (body["actor"], body["team"], body["asset"], body["version"]) == (
        "alice",
        "red",
        "red/churn",
        2,
    )


def test_a_refused_registration_leaves_no_row(alice: Any, churn: None, lake: Path) -> None:
    missing = (lake / "nowhere.bin").as_uri()  # in a declared store, but not there

    response = alice.post(
        "/models/red/churn/versions", {"artifacts": [{"name": "m", "uri": missing}]}
    )

    assert response.status_code == 400
    assert AuditEvent.objects.filter(action="model.version_registered").count() == 2


def test_moving_an_alias_records_from_where_to_where_and_why(alice: Any, churn: None) -> None:
    alice.put("/models/red/churn/aliases/champion", {"version": 1, "reason": "first"})
    alice.put("/models/red/churn/aliases/champion", {"version": 2, "reason": "better auc"})
    alice.delete("/models/red/churn/aliases/champion", reason="retired")

    moved = events(alice, action="model.alias_moved")
    removed = events(alice, action="model.alias_removed")

    assert [(e["details"], e["reason"], e["version"]) for e in moved] == [
        ({"alias": "champion", "from": 1, "to": 2}, "better auc", 2),
        ({"alias": "champion", "from": None, "to": 1}, "first", 1),
    ]
    assert [(e["actor"], e["details"], e["reason"]) for e in removed] == [
        ("alice", {"alias": "champion", "was": 2}, "retired")
    ]


def test_deleting_records_who_asked_and_what_the_worker_freed(
    alice: Any, churn: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.delete("/models/red/churn/versions/1", reason="superseded")
    assert response.status_code == 202
    version = AssetVersion.objects.get(version=1)

    trail = AuditEvent.objects.filter(version=version).exclude(action="model.version_registered")

    assert [(e.action, e.actor_label, e.reason) for e in trail.order_by("id")] == [
        ("model.deletion_scheduled", "alice", "superseded"),
        ("model.deleted", "system:deletion", ""),
    ]
    assert trail.get(action="model.deleted").details == {
        "bytes_reclaimed": 10,
        "registered_bytes": 10,
    }


def test_the_trail_filters_by_team_actor_and_asset(
    alice: Any, carol: Any, churn: None, artifact_root: Path
) -> None:
    carol.post("/models", {"team": "blue", "name": "fraud"})
    carol.upload("/models/blue/fraud/versions/upload", {"m.bin": b"z"}, {})
    churn_id = alice.get("/models/red/churn").json()["id"]

    assert {e["team"] for e in events(alice, team="red")} == {"red"}
    assert {e["asset"] for e in events(alice, team="blue")} == {"blue/fraud", None}
    assert {e["actor"] for e in events(alice, actor="carol")} == {"carol"}
    assert {e["asset"] for e in events(alice, asset_id=churn_id)} == {"red/churn"}
