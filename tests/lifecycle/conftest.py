"""Versions of team red, unused since long ago, and a clock to travel with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from modelyard.lifecycle import notify
from modelyard.lifecycle.scan import ScanResult, scan
from modelyard.registry.models import AssetVersion

DAY = timedelta(days=1)


@dataclass
class Clock:
    """Scans and sends as of `start + days`; `start` is when the versions were last used."""

    start: datetime

    def at(self, days: float) -> datetime:
        return self.start + days * DAY

    def scan(self, days: float, **kwargs: Any) -> ScanResult:
        return scan(self.at(days), **kwargs)

    def send(self, days: float) -> notify.SendResult:
        return notify.send_pending(self.at(days))

    def step(self, days: float) -> ScanResult:
        result = self.scan(days)
        self.send(days)
        return result


@pytest.fixture
def clock() -> Clock:
    # Versions were last used 100 days ago; day 0 of the clock is that moment.
    return Clock(timezone.now() - 100 * DAY)


def register(
    api: Any,
    name: str,
    used: datetime,
    team: str = "red",
    payload: bytes = b"x" * 100,
    kind: str = "models",
) -> dict[str, Any]:
    api.post(f"/{kind}", {"team": team, "name": name})
    response = api.upload(
        f"/{kind}/{team}/{name}/versions/upload",
        {"model.bin": payload},
        {"created_at": used.isoformat(), "last_accessed_at": used.isoformat()},
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def stale(alice, clock: Clock, artifact_root: Path) -> list[AssetVersion]:
    """Two versions of team red, last used on day 0."""
    register(alice, "churn", clock.start)
    register(alice, "fraud", clock.start)
    return list(AssetVersion.objects.order_by("id"))


def state(version: AssetVersion) -> str:
    version.refresh_from_db()
    return version.lifecycle_state
