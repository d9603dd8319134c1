"""Sections of modelyard.yaml that apps above jobs own (monitoring's `monitors:`).

Those apps import jobs, never the other way round, so they register their section here when
Django starts (their AppConfig.ready); `modelyard apply` (projects.py) then parses, plans and
writes each registered section with the rest of the file, in the same transaction.
"""

from __future__ import annotations

from typing import Any, Protocol

from modelyard.accounts.models import Team
from modelyard.registry.services import Actor


class Section(Protocol):
    key: str

    def parse(self, text: str) -> tuple[Any, list[str]]:
        """The section's spec (empty when absent) and its problems, as "line N: …"."""

    def plan(self, team: Team, project: str, spec: Any) -> list[str]:
        """Diff lines of what applying `spec` changes; a ModelyardError when it cannot."""

    def apply(self, actor: Actor, team: Team, project: str, spec: Any) -> None:
        """Write `spec` (inside the apply's transaction)."""


SECTIONS: dict[str, Section] = {}


def register(section: Section) -> None:
    SECTIONS[section.key] = section
