"""No valid token means 401 with `WWW-Authenticate: Bearer`, for reads and writes alike;
CSRF is still checked on writes that ride on a signed-in browser session."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from modelyard.accounts.tokens import create_token

pytestmark = pytest.mark.django_db

WRITES = [
    ("post", "/api/v1/models", {"team": "red", "name": "churn"}),
    ("put", "/api/v1/teams/red/members/bob", {"role": "owner"}),
    ("patch", "/api/v1/models/red/churn", {"description": "x"}),
    ("delete", "/api/v1/teams/red/members/bob", None),
]


def call(client: Client, method: str, path: str, body: object) -> object:
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(path, data=data, content_type="application/json")


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_write_without_a_token_is_401(teams, method, path, body) -> None:
    response = call(Client(enforce_csrf_checks=True), method, path, body)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="modelyard"'
    assert "Authorization: Bearer" in response.json()["message"]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_write_with_a_bad_token_is_401(teams, method, path, body) -> None:
    client = Client(enforce_csrf_checks=True, headers={"Authorization": "Bearer my_nope"})
    response = call(client, method, path, body)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="modelyard", error="invalid_token"'


def test_a_read_without_a_token_is_401(teams) -> None:
    response = Client().get("/api/v1/models")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_session_write_needs_its_csrf_token(teams) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(teams["alice"])
    refused = call(client, "post", "/api/v1/models", {"team": "red", "name": "churn"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    token = "a" * 32  # a CSRF secret, as the docs page's cookie holds
    client.cookies["csrftoken"] = token
    accepted = client.post(
        "/api/v1/models",
        data=json.dumps({"team": "red", "name": "churn"}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 201


def test_a_token_write_needs_no_csrf_token(teams) -> None:
    token = create_token(teams["alice"], "test")[1]
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token}"})
    response = call(client, "post", "/api/v1/models", {"team": "red", "name": "churn"})
    assert response.status_code == 201
