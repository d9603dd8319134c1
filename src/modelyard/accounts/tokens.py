"""Creating and checking API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from modelyard.accounts.models import ApiToken

TOKEN_PREFIX = "my_"  # noqa: S105 - a public marker, not a secret


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Return the stored token and the raw secret, which is shown once and never again."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=hash_token(raw),
        prefix=raw[:10],
        expires_at=expires_at,
    )
    return token, raw


def user_for_token(raw: str) -> User | None:
    """The active user a valid, unexpired, unrevoked token belongs to, else None."""
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is None:
        return None
    # Only record use once a minute per token: a hot client must not write on every call.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
