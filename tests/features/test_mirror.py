"""Environments: production's raw event log, written under its own artifact root, mirrored
into this deployment (staging) for a sample of entities; the online store rebuilt from it
answers as production does (diff: zero differences), and stops doing so when staging
takes an event production never saw."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from modelyard.features import mirror, offline, services
from modelyard.features.validation import check_rows
from modelyard.lib.errors import InvalidInput

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def in_sample(user_id: int, percent: float) -> bool:
    """The documented rule, written again independently of the SQL."""
    bucket = int(hashlib.md5(str(user_id).encode()).hexdigest()[:8], 16) % 10_000  # noqa: S324
    return bucket < percent * 100


@pytest.fixture
def production(
    applied: Any, tmp_path: Path, settings: Any, declare_store: Any, monkeypatch: Any
) -> dict[str, Any]:
    """Production's log of red/clicks (40 users, over 40 days) under its own root; this
    deployment is staging."""
    views = applied()
    root = (tmp_path / "production").as_uri() + "/"
    declare_store(root, teams=["red"])
    monkeypatch.setenv("MODELYARD_FEATURES_ENVIRONMENTS", f"production={root}")
    settings.ENVIRONMENT = "staging"
    generator = random.Random(4)
    events = [
        {
            "event_id": f"e{number}",
            "user_id": generator.randrange(40),
            "amount": generator.choice([0.1, 0.2, 2.5, generator.uniform(0, 50)]),
            "page": generator.choice(["home", "cart", "checkout"]),
            "ts": (NOW - timedelta(minutes=generator.randrange(40 * 1440))).isoformat(),
        }
        for number in range(600)
    ]
    source = views["user_activity"].source
    staging_root = settings.ARTIFACT_ROOT
    settings.ARTIFACT_ROOT = root
    offline.append(source, check_rows(events, source.schema, source.keys))
    settings.ARTIFACT_ROOT = staging_root
    return {"views": views, "events": events, "source": source}


def test_a_sample_of_production_is_mirrored_and_answers_as_production(
    production: dict[str, Any],
) -> None:
    with time_machine.travel(NOW, tick=False):
        result = mirror.mirror("production", mirror.Scope(sample_percent=50))
        diffed = mirror.diff("production", mirror.Scope(sample_percent=50))

    expected = [e for e in production["events"] if in_sample(e["user_id"], 50)]
    assert 0 < len(expected) < len(production["events"])
    assert result.sources == {"red/clicks": len(expected)}
    assert sorted(result.views) == ["red/purchases", "red/user_activity"]
    mirrored = offline.read_log(production["source"])
    assert sorted(row["event_id"] for row in mirrored) == sorted(e["event_id"] for e in expected)
    users = {e["user_id"] for e in expected}
    assert diffed.entities == 2 * len(users)  # both views
    assert diffed.values > 100
    assert diffed.differences == []


def test_since_keeps_recent_events_and_diff_finds_a_staging_only_event(
    production: dict[str, Any],
) -> None:
    scope = mirror.Scope(sample_percent=100, since_seconds=7 * 86400)
    with time_machine.travel(NOW, tick=False):
        mirror.mirror("production", scope)
        event = {
            "event_id": "x",
            "user_id": 3,
            "amount": 1.0,
            "page": "home",
            "ts": NOW.isoformat(),
        }
        services.ingest("test", production["source"], [event])
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        diffed = mirror.diff("production", scope)

    recent = [
        e
        for e in production["events"]
        if datetime.fromisoformat(e["ts"]) >= NOW - timedelta(days=7)
    ]
    assert len(offline.read_log(production["source"])) == len(recent) + 1
    changed = {(d.view, tuple(d.entity), d.feature) for d in diffed.differences}
    assert ("red/user_activity", (3,), "clicks_1h") in changed
    assert {entity for _, (entity,), _ in changed} == {3}


def test_environments_are_named_and_mirrors_run_on_the_receiving_deployment(
    production: dict[str, Any],
) -> None:
    with pytest.raises(InvalidInput, match=r"Unknown environment 'qa'.*MODELYARD_FEATURES"):
        mirror.mirror("qa", mirror.Scope())
    with pytest.raises(InvalidInput, match="run the mirror on the production deployment"):
        mirror.check_target("production")
    with pytest.raises(InvalidInput, match="percentage"):
        mirror.parse_percent("150%")
    assert mirror.parse_percent("10%") == 10.0
