"""Request parsing that refuses NUL characters with a 422 instead of a database error.

PostgreSQL cannot store U+0000 in text or jsonb, so without this a NUL anywhere in a body
or query string would surface as a 500 from deep inside the ORM.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.parser import Parser

from modelyard.lib.errors import Unprocessable


def nul_path(value: Any, path: str = "body") -> str | None:
    """The path of the first string (key or value) containing NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = nul_path(key, path) or nul_path(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}.{index}")
            if found:
                return found
    return None


def refuse_nul(value: Any, path: str) -> None:
    found = nul_path(value, path)
    if found:
        raise Unprocessable(f"{found}: NUL characters (\\u0000) are not allowed; remove them.")


class StrictParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        body = super().parse_body(request)
        refuse_nul(body, "body")
        return body

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        result = super().parse_querydict(data, list_fields, request)
        refuse_nul(result, "query")
        return result


def loads_strict(text: str, path: str) -> Any:
    """json.loads for JSON carried in form fields, with the same NUL rule."""
    value = json.loads(text)
    refuse_nul(value, path)
    return value
