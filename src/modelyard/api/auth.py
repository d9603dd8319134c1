"""Who is calling: a bearer token, or a signed-in browser session (for the API docs page).

A request that neither authenticates is answered 401 with `WWW-Authenticate: Bearer`
(api.main); only a request that does carry a signed-in session has its writes checked for
a CSRF token, since only a browser holding that cookie can be tricked into sending one.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from modelyard.accounts.tokens import user_for_token


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SignedInSession(SessionAuth):
    """django-ninja's session auth, minus its CSRF check on requests with no session.

    ninja checks CSRF before looking at the session, so a write with a missing or wrong
    bearer token was answered "403 CSRF check Failed" instead of 401.
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


DEFAULT_AUTH: list[Any] = [BearerToken(), SignedInSession()]


def authenticate(request: HttpRequest) -> User | None:
    """Run the default authenticators in order; the first that knows the caller wins."""
    for method in DEFAULT_AUTH:
        user = method(request)
        if user:
            return request.user if isinstance(request.user, User) else None
    return None


def challenge(request: HttpRequest) -> str:
    """The WWW-Authenticate value of a 401 (RFC 6750): why the token was not taken."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return 'Bearer realm="modelyard", error="invalid_token"'
    return 'Bearer realm="modelyard"'
