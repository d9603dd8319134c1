from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from modelyard.accounts.models import ApiToken
from modelyard.accounts.tokens import create_token, user_for_token

pytestmark = pytest.mark.django_db


def test_only_the_hash_is_stored(teams) -> None:
    token, raw = create_token(teams["alice"], "ci")
    assert raw not in {token.token_hash, token.prefix}
    assert user_for_token(raw) == teams["alice"]


def test_revoked_expired_and_inactive_tokens_are_refused(teams) -> None:
    revoked, raw_revoked = create_token(teams["alice"], "old")
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    _, raw_expired = create_token(teams["alice"], "short", timezone.now() - timedelta(seconds=1))
    _, raw_inactive = create_token(teams["bob"], "gone")
    teams["bob"].is_active = False
    teams["bob"].save()
    for raw in (raw_revoked, raw_expired, raw_inactive, "my_made_up"):
        assert user_for_token(raw) is None


def test_revoked_token_gets_401(teams, client) -> None:
    token, raw = create_token(teams["alice"], "old")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
