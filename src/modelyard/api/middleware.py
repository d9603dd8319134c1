"""Refuse control characters in a request's path, query string and headers, up front.

PostgreSQL cannot store NUL, and no name, path or filter of modelyard has a use for a
control character, so a request carrying one is answered 422 naming where it was, before any
view can pass it to the database (the JSON body gets the same rule and status in api.parser).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

# C0 controls and DEL; a header value may hold a tab (RFC 9110 allows it).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def control_character_field(request: HttpRequest) -> str | None:
    """Where the first control character is (`path`, `query.NAME`, `header.NAME`), or None."""
    if CONTROL.search(request.path):
        return "path"
    for name, values in request.GET.lists():
        if CONTROL.search(name) or any(CONTROL.search(value) for value in values):
            return f"query.{CONTROL.sub('?', name)}"
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and HEADER_CONTROL.search(value):
            return f"header.{key[5:].replace('_', '-').title()}"
    return None


class RefuseControlCharacters:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        field = control_character_field(request)
        if field is None:
            return self.get_response(request)
        message = (
            f"{field}: control characters (such as NUL, \\u0000) are not allowed; remove them."
        )
        if request.path.startswith("/api/"):
            body = {"message": message, "errors": [{"field": field, "message": message}]}
            return HttpResponse(json.dumps(body), status=422, content_type="application/json")
        return HttpResponse(message, status=422, content_type="text/plain; charset=utf-8")
