"""Who is calling: a bearer token, or a signed-in browser session (for the API docs page)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.security import HttpBearer, django_auth

from modelyard.accounts.tokens import user_for_token


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


DEFAULT_AUTH: list[Any] = [BearerToken(), django_auth]


def authenticate(request: HttpRequest) -> User | None:
    """Run the default authenticators in order; the first that knows the caller wins."""
    for method in DEFAULT_AUTH:
        user = method(request)
        if user:
            return request.user if isinstance(request.user, User) else None
    return None
