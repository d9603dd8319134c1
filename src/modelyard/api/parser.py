"""Request parsing that refuses what the database cannot store with a 422, not a 500.

PostgreSQL cannot store U+0000 in text or jsonb, nor NaN or Infinity in jsonb; without this
they would surface as a 500 from deep inside the ORM. Other control characters (except tab,
newline and carriage return, which free text uses) have no place in a name or a value
either, and are refused the same way (path, query and headers: api.middleware).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.parser import Parser

from modelyard.lib.errors import InvalidInput, Unprocessable

TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_path(value: Any, path: str = "body") -> str | None:
    """The path of the first string (key or value) holding a control character, or None."""
    if isinstance(value, str):
        return path if TEXT_CONTROL.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = control_path(key, path) or control_path(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = control_path(item, f"{path}.{index}")
            if found:
                return found
    return None


def refuse_control(value: Any, path: str) -> None:
    found = control_path(value, path)
    if found:
        raise Unprocessable(
            f"{found}: control characters (such as NUL, \\u0000) are not allowed; remove them."
        )


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"The request body holds {name}, which JSON does not allow; send a number.")


def loads(text: str | bytes) -> Any:
    """json.loads without the NaN and Infinity Python accepts but JSON (and jsonb) do not."""
    return json.loads(text, parse_constant=_no_constant)


class StrictParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        body: dict[str, Any] = loads(request.body)
        refuse_control(body, "body")
        return body

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        result = super().parse_querydict(data, list_fields, request)
        refuse_control(result, "query")
        return result


def loads_strict(text: str, path: str) -> Any:
    """json.loads for JSON carried in form fields, with the same rules."""
    value = loads(text)
    refuse_control(value, path)
    return value
