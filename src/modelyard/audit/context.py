"""The request being served, so an audit row written deep inside a permission check can
name what was asked for (`POST /api/v1/models/blue/churn/versions`) without every caller
passing the request down."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponseBase

MAX_TARGET_LENGTH = 500

_request_line: ContextVar[str] = ContextVar("modelyard_request_line", default="")


def current_request_line() -> str:
    """`METHOD /path` of the request this thread serves, or "" outside a request."""
    return _request_line.get()


class RequestLineMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        token = _request_line.set(f"{request.method} {request.path}"[:MAX_TARGET_LENGTH])
        try:
            return self.get_response(request)
        finally:
            _request_line.reset(token)
