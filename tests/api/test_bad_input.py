"""Input the database cannot store is a 4xx naming the field, never a 5xx (issue 10.7).

These run on PostgreSQL under `make test-postgres`, where each of them was a 500.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from modelyard.accounts.tokens import create_token
from tests.conftest import Api

pytestmark = pytest.mark.django_db

HUGE = 2**70


@pytest.fixture
def staff(teams) -> Api:
    user = User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)
    user.is_superuser = True
    user.save()
    return Api(create_token(user, "test")[1])


@pytest.mark.parametrize(
    "path", ["/models", "/datasets", "/versions", "/audit", "/runs", "/models/red/churn/versions"]
)
def test_a_huge_offset_is_refused_on_every_list(alice, path) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    response = alice.get(path, offset=HUGE)
    assert response.status_code == 422
    assert "query.offset" in response.json()["message"]


def test_the_largest_offset_answers_an_empty_page(alice) -> None:
    response = alice.get("/versions", offset=2**63 - 1)
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize("when", ["2026-01-01T00:00:00-22:11", "0001-01-01T00:00:00+01:00"])
def test_a_datetime_the_database_cannot_store_is_refused(alice, when) -> None:
    response = alice.get("/versions", stale_since=when)
    assert response.status_code == 422
    assert "stale_since" in response.json()["message"]


def test_a_scan_at_an_unstorable_moment_is_refused(staff) -> None:
    response = staff.post("/lifecycle/scan", {"at": "0160-06-15T19:57:16-21:31"})
    assert response.status_code == 422
    assert "body.at" in response.json()["message"]


def test_an_offset_postgresql_accepts_is_converted_to_utc(alice) -> None:
    response = alice.get("/versions", stale_since="2026-01-01T00:00:00-15:30")
    assert response.status_code == 200


def test_keep_newest_beyond_its_column_is_refused(staff) -> None:
    response = staff.put("/lifecycle/policies", {"keep_newest": 11205555915})
    assert response.status_code == 422
    assert "keep_newest" in response.json()["message"]


def test_a_version_number_beyond_its_column_is_refused(alice) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    response = alice.put("/models/red/churn/aliases/candidate", {"version": HUGE})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/models/re%00d/churn", "path"),
        ("/models/red/churn/versions/1/files/home/%00", "path"),
        ("/models/red/ch%01urn", "path"),
        ("/models?team=re%00d", "query.team"),
    ],
)
def test_control_characters_in_the_url_are_refused(alice, path, field) -> None:
    response = alice.client.get(f"/api/v1{path}")
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{field}: control characters")


def test_control_characters_in_a_header_are_refused(alice) -> None:
    response = alice.client.get("/api/v1/models", headers={"X-Trace": "a\x00b"})
    assert response.status_code == 422
    assert "header.X-Trace" in response.json()["message"]


def test_control_characters_in_a_page_url_are_refused(teams) -> None:
    client = Client()
    client.force_login(teams["alice"])
    assert client.get("/teams/re%00d/").status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"team": "red", "name": "a\x00b"}, "body.name"),
        ({"team": "red", "name": "churn", "description": "a\x07b"}, "body.description"),
    ],
)
def test_control_characters_in_a_body_are_refused(alice, body, field) -> None:
    response = alice.post("/models", body)
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{field}: control characters")


def test_free_text_keeps_its_newlines_and_tabs(alice) -> None:
    response = alice.post("/models", {"team": "red", "name": "churn", "description": "a\n\tb"})
    assert response.status_code == 201


def test_nan_and_infinity_are_refused(alice) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    response = alice.client.patch(
        "/api/v1/models/red/churn",
        data='{"tags": {}, "description": NaN}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "NaN" in response.json()["message"]
