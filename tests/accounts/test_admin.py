"""Operators browse the registry in the admin and mint tokens there (shown once, stored hashed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from modelyard.accounts.models import ApiToken
from modelyard.accounts.tokens import hash_token, user_for_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, teams) -> User:
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return admin


@pytest.mark.parametrize(
    "page",
    [
        "registry/model",
        "registry/dataset",
        "registry/featureset",
        "registry/assetversion",
        "audit/auditevent",
        "accounts/team",
        "accounts/apitoken",
        "django_celery_beat/periodictask",
    ],
)
def test_changelists_render(client, operator, alice, artifact_root: Path, page: str) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"m": b"x"}, {})
    response = client.get(f"/admin/{page}/")
    assert response.status_code == 200


def test_version_page_shows_artifacts_and_lineage(client, operator, alice, artifact_root) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    body = alice.upload("/models/red/churn/versions/upload", {"weights.bin": b"x"}, {}).json()
    response = client.get(f"/admin/registry/assetversion/{body['id']}/change/")
    assert response.status_code == 200
    assert b"weights.bin" in response.content


def test_token_created_in_admin_is_shown_once_and_works(client, operator, teams) -> None:
    response = client.post(
        "/admin/accounts/apitoken/add/",
        {"user": teams["bob"].pk, "name": "laptop", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    raw = shown[0].rsplit(" ", 1)[-1]
    assert raw.startswith("my_")
    token = ApiToken.objects.get(name="laptop")
    assert token.token_hash == hash_token(raw)
    assert user_for_token(raw) == teams["bob"]
