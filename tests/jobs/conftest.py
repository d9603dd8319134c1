"""A project of team red running tests/jobs/programs/sample.py, and helpers to apply specs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.jobs import projects
from modelyard.jobs.models import Command
from tests.fixtures.worker import database_url
from tests.jobs.fakes import RecordingExecutor

PROGRAM = Path(__file__).parent / "programs"


def spec(commands: str, project: str = "churn", team: str = "red", extra: str = "") -> str:
    body = "\n".join(f"  {line}" for line in commands.strip().splitlines())
    return f"project: {project}\nteam: {team}\nprogram: {PROGRAM}\n{extra}commands:\n{body}\n"


@pytest.fixture(autouse=True)
def recording_executor(settings: Any) -> Iterator[list[int]]:
    settings.RUN_EXECUTOR = "tests.jobs.fakes.RecordingExecutor"
    RecordingExecutor.submitted = []
    return RecordingExecutor.submitted


@pytest.fixture
def apply(teams: dict[str, Any]) -> Callable[..., dict[str, Command]]:
    def run(text: str) -> dict[str, Command]:
        projects.apply(teams["alice"], text)
        return {c.name: c for c in Command.objects.filter(active=True)}

    return run


@pytest.fixture
def child_env(monkeypatch: pytest.MonkeyPatch, artifact_root: Path, settings: Any) -> None:
    """What a run's child process needs to reach the test database and artifact root."""
    monkeypatch.setenv("MODELYARD_DATABASE_URL", database_url())
    monkeypatch.setenv("MODELYARD_ARTIFACT_ROOT", artifact_root.as_uri())
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "modelyard.settings")
    settings.RUN_HEARTBEAT_SECONDS = 0.2
