"""From modelyard.yaml to a training set through the real HTTP server and the CLI: apply,
push a CSV and an NDJSON file, read online features, build a point-in-time training set."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import time_machine

from modelyard.registry.models import AssetVersion
from tests.features.conftest import project

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(minutes_ago: int) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


def test_apply_push_read_online_and_build_a_training_set(cli: Any, tmp_path: Path) -> None:
    spec = tmp_path / "modelyard.yaml"
    spec.write_text(project())
    csv = tmp_path / "clicks.csv"
    csv.write_text(
        "event_id,user_id,amount,page,ts\n"
        f"a,42,10.0,home,{at(50)}\n"
        f"b,42,2.5,checkout,{at(30)}\n"
        f"c,7,1.0,home,{at(20)}\n"
    )
    ndjson = tmp_path / "more.ndjson"
    ndjson.write_text(
        json.dumps(
            {"event_id": "b", "user_id": 42, "amount": 2.5, "page": "checkout", "ts": at(30)}
        )
        + "\n"
        + json.dumps({"event_id": "d", "user_id": 42, "amount": 4.0, "page": "cart", "ts": at(5)})
        + "\n"
    )
    entities = tmp_path / "entities.csv"
    entities.write_text(f"user_id,timestamp,label\n42,{at(40)},0\n42,{at(0)},1\n7,{at(0)},0\n")
    output = tmp_path / "train.parquet"

    with time_machine.travel(NOW, tick=False):
        assert "+ feature view purchases" in cli("apply", "-f", str(spec)).output
        assert (
            "3 new, 0 duplicates"
            in cli("features", "push", "red/clicks", str(csv), user="bob").output
        )
        assert "1 new, 1 duplicates" in cli("features", "push", "red/clicks", str(ndjson)).output
        refused = cli.fails("features", "push", "red/clicks", str(csv), user="carol")
        online = cli.json("features", "online", "red/user_activity", "user_id=42", user="mallory")
        cli(
            "features",
            "training-set",
            "--entities",
            str(entities),
            "--features",
            "red/user_activity:spend_7d,red/user_activity:last_page,red/purchases",
            "--output",
            str(output),
            "--register",
            "red/clicks_training",
            user="bob",
        )

    assert "not a member of team 'red'" in refused
    assert online["results"][0]["features"]["spend_7d"] == 16.5
    assert online["results"][0]["features"]["last_page"] == "cart"
    rows = pq.read_table(output).to_pylist()
    assert [(r["user_id"], r["label"]) for r in rows] == [(42, 0), (42, 1), (7, 0)]
    assert [r["user_activity__spend_7d"] for r in rows] == [10.0, 16.5, 1.0]
    assert [r["user_activity__last_page"] for r in rows] == ["home", "cart", "home"]
    assert [r["purchases__purchases_90m"] for r in rows] == [0, 1, 0]
    assert "user_activity__clicks_1h" not in rows[0]
    registered = AssetVersion.objects.get(asset__name="clicks_training", asset__kind="dataset")
    upstream = {edge.upstream.asset.name for edge in registered.upstream_edges.all()}
    assert upstream == {"user_activity", "purchases"}
