"""Listing and filtering the catalog: team, name, tag, stale-since, pagination."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(alice, carol, artifact_root: Path) -> None:
    old = (timezone.now() - timedelta(days=90)).isoformat()
    for name, tags in (("churn", {"domain": "crm"}), ("fraud", {"domain": "risk"})):
        alice.post("/models", {"team": "red", "name": name, "tags": tags})
        alice.upload(
            f"/models/red/{name}/versions/upload",
            {"m": b"x"},
            {"created_at": old, "last_accessed_at": old, "tags": tags},
        )
        alice.upload(f"/models/red/{name}/versions/upload", {"m": b"y"}, {})
    carol.post("/models", {"team": "blue", "name": "churn"})
    carol.upload("/models/blue/churn/versions/upload", {"m": b"z"}, {})


def test_filter_models_by_team_name_and_tag(alice, catalog) -> None:
    assert alice.get("/models").json()["count"] == 3
    assert [m["ref"] for m in alice.get("/models", team="red").json()["items"]] == [
        "red/churn",
        "red/fraud",
    ]
    assert alice.get("/models", name="chu").json()["count"] == 2
    assert [m["ref"] for m in alice.get("/models", tag="domain=risk").json()["items"]] == [
        "red/fraud"
    ]
    assert alice.get("/models", tag="domain").json()["count"] == 2


def test_stale_since_finds_versions_unused_since(alice, catalog) -> None:
    cutoff = (timezone.now() - timedelta(days=30)).isoformat()
    stale = alice.get("/versions", stale_since=cutoff).json()
    assert sorted(v["ref"] for v in stale["items"]) == ["red/churn:1", "red/fraud:1"]
    by_team = alice.get("/versions", stale_since=cutoff, team="blue").json()
    assert by_team["count"] == 0
    per_model = alice.get("/models/red/churn/versions", stale_since=cutoff).json()
    assert [v["version"] for v in per_model["items"]] == [1]


def test_pagination(alice, catalog) -> None:
    first = alice.get("/versions", limit=2, offset=0).json()
    second = alice.get("/versions", limit=2, offset=2).json()
    assert first["count"] == second["count"] == 5
    assert len(first["items"]) == len(second["items"]) == 2
    assert not {v["id"] for v in first["items"]} & {v["id"] for v in second["items"]}


def test_limit_above_maximum_is_422(alice, catalog) -> None:
    response = alice.get("/versions", limit=10_000)
    assert response.status_code == 422
    assert "limit" in response.json()["message"]


def test_openapi_document_is_served(alice) -> None:
    document = alice.client.get("/api/v1/openapi.json").json()
    assert document["info"]["title"] == "modelyard"
    assert "/api/v1/models/{team}/{name}/versions" in document["paths"]
