"""`modelyard score` of a model that fetches its features: entity files (keys + time) in, each
row scored on the features as they were at its time (the training-set code), keys kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from modelyard.features import services
from tests.features.conftest import (  # noqa: F401 - applied is a fixture
    applied,
    by_user_estimator,
    click_events,
    register_by_user,
)
from tests.fixtures.cli import Cli

pytestmark = pytest.mark.integration


def test_entity_rows_are_scored_on_point_in_time_features(
    cli: Cli,
    teams,
    applied,  # noqa: F811
    tmp_path: Path,
) -> None:
    views = applied()
    now = timezone.now()
    services.ingest(teams["alice"], views["user_activity"].source, click_events(now))
    estimator = by_user_estimator()
    register_by_user(teams["alice"], teams["red"], estimator)
    entities = tmp_path / "entities.csv"
    times = [now - timedelta(minutes=40), now, now]
    entities.write_text(
        "user_id,timestamp,label\n"
        + "".join(
            f"{u},{t.isoformat()},{y}\n"
            for u, t, y in zip([42, 42, 7], times, [0, 1, 0], strict=True)
        )
    )
    output = tmp_path / "scores"

    result = cli.json(
        "score", "red/by-user:1", "--input", entities.as_uri(), "--output", output.as_uri()
    )

    assert result["rows"] == 3
    scored = pq.read_table(output).sort_by([("user_id", "descending"), ("timestamp", "ascending")])
    assert scored.column("label").to_pylist() == [0, 1, 0]  # the entity columns are kept
    # 40 minutes ago user 42 had clicked once (10.0, not at checkout); now three times.
    at_their_times = np.array([[1, 10.0, 0.0], [3, 16.5, 6.5], [1, 1.0, 0.0]])
    assert scored.column("probability_1").to_pylist() == pytest.approx(
        estimator.predict_proba(at_their_times)[:, 1], abs=1e-5
    )


def test_a_plain_entity_file_without_the_keys_is_refused(
    cli: Cli,
    teams,
    applied,  # noqa: F811
    tmp_path: Path,
) -> None:
    applied()
    register_by_user(teams["alice"], teams["red"], by_user_estimator())
    entities = tmp_path / "entities.csv"
    entities.write_text(f"account,timestamp\n42,{timezone.now().isoformat()}\n")

    output = cli.fails(
        "score", "red/by-user:1", "--input", entities.as_uri(), "--output", str(tmp_path / "o")
    )

    assert "lacks key column(s) user_id of view red/user_activity" in output
