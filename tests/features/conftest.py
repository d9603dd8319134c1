"""Team red's project with a clicks source and a user_activity view, applied in each test."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.features.models import View
from modelyard.jobs import projects
from modelyard.registry import services as registry
from modelyard.registry.models import AssetVersion, Kind

PROGRAM = Path(__file__).parent

FEATURES = """\
features:
  entities:
    user: [user_id]
  sources:
    clicks:
      entity: user
      event_time: ts
      lateness: 2h
      schema: {event_id: string, user_id: int, amount: float, page: string, ts: timestamp}
  views:
    user_activity:
      source: clicks
      features:
        clicks_1h: {agg: count, window: 1h}
        spend_7d: {agg: sum, column: amount, window: 7d}
        mean_amount_1d: {agg: mean, column: amount, window: 1d}
        smallest_7d: {agg: min, column: amount, window: 7d}
        largest: {agg: max, column: amount}
        last_page: {agg: last, column: page}
        pages_30d: {agg: distinct_count, column: page, window: 30d}
        spend_per_click_7d: {ratio: [spend_7d, clicks_7d]}
        clicks_7d: {agg: count, window: 7d}
    purchases:
      source: clicks
      filter: page == 'checkout'
      features:
        purchases_90m: {agg: count, window: 90m}
        purchase_spend: {agg: sum, column: amount}
"""


def project(features: str = FEATURES, team: str = "red") -> str:
    return f"project: shop\nteam: {team}\nprogram: {PROGRAM}\ncommands:\n  train: {{}}\n" + features


@pytest.fixture
def applied(teams: dict[str, Any], artifact_root: Path) -> Callable[..., dict[str, View]]:
    def run(text: str | None = None) -> dict[str, View]:
        projects.apply(teams["alice"], text or project())
        return {view.name: view for view in View.objects.filter(active=True)}

    return run


# --- a model that fetches its features (serving, scoring, the acceptance test) -------------

BY_USER_INPUTS = ["user_activity:clicks_7d", "user_activity:spend_7d", "purchases:purchase_spend"]


def click_events(now: Any) -> list[dict[str, Any]]:
    """Users 42 (three clicks, two at checkout) and 7 (one), within the last hour."""

    def event(n: int, user: int, amount: float, page: str, minutes: int) -> dict[str, Any]:
        when = (now - timedelta(minutes=minutes)).isoformat()
        return {"event_id": str(n), "user_id": user, "amount": amount, "page": page, "ts": when}

    return [
        event(1, 42, 10.0, "home", 50),
        event(2, 42, 2.5, "checkout", 30),
        event(3, 42, 4.0, "checkout", 20),
        event(4, 7, 1.0, "home", 10),
    ]


def by_user_estimator() -> LogisticRegression:
    rows = np.array([[0, 0, 0], [1, 10, 0], [3, 16, 6.5], [5, 30, 20], [2, 3, 1], [0, 1, 0]])
    return LogisticRegression().fit(rows, [0, 0, 1, 1, 1, 0])


def register_by_user(actor: Any, team: Any, estimator: Any) -> AssetVersion:
    """red/by-user:1, whose signature names BY_USER_INPUTS."""
    asset = registry.create_asset(actor, Kind.MODEL, team, "by-user")
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    spec = registry.VersionSpec(
        flavor="sklearn",
        signature={
            "inputs": [{"name": name, "type": "double"} for name in BY_USER_INPUTS],
            "outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}],
        },
        input_example=[[1, 10.0, 0.0], [3, 16.5, 6.5]],
    )
    payload = buffer.getvalue()
    source = registry.ArtifactSource("model.joblib", stream=io.BytesIO(payload), size=len(payload))
    return registry.register_version(actor, asset, spec, [source])
