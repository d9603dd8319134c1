"""Team red's project with a clicks source and a user_activity view, applied in each test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelyard.features.models import View
from modelyard.jobs import projects

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
