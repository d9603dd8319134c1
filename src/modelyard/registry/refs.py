"""Parsing asset references: `team/name`, `team/name:3`, `team/name@production`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.lib.errors import InvalidInput

_REF = re.compile(
    r"^(?P<team>[a-z0-9][a-z0-9._-]*)/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)"
    r"(?::(?P<version>\d+)|@(?P<alias>[a-z][a-z0-9_-]*))?$"
)


@dataclass(frozen=True)
class Ref:
    team: str
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        suffix = f":{self.version}" if self.version else f"@{self.alias}" if self.alias else ""
        return f"{self.team}/{self.name}{suffix}"


def parse_ref(text: str) -> Ref:
    match = _REF.match(text.strip())
    if match is None:
        raise InvalidInput(
            f"Cannot read the reference {text!r}; write TEAM/NAME, TEAM/NAME:VERSION "
            "or TEAM/NAME@ALIAS, e.g. demo/churn:3 or demo/churn@production."
        )
    version = match["version"]
    return Ref(match["team"], match["name"], int(version) if version else None, match["alias"])
