"""Issue 12's acceptance, on real services: PostgreSQL, Redis, an S3 endpoint (moto's server)
holding the artifact root (raw event log, training set, model bytes), the web app over HTTP
and a real `modelyard serve` process.

Apply a project with a source and two views, push events over HTTP, read online features,
build a point-in-time training set, train and register a model on it, promote it through
the gate, and predict by entity id from the served process.
"""

from __future__ import annotations

import io
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pyarrow.parquet as pq
import pytest
from django.utils import timezone
from sklearn.linear_model import LogisticRegression

from modelyard import storage
from tests.features.conftest import click_events, project
from tests.fixtures.cli import Cli
from tests.serving.test_serve_command import serve

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FEATURES = ["user_activity:clicks_7d", "user_activity:spend_7d", "purchases:purchase_spend"]
COLUMNS = [name.replace(":", "__") for name in FEATURES]  # as the training set names them


def shoppers(now: Any, rng: random.Random) -> list[dict[str, Any]]:
    """Users 100-139 with 0-6 clicks each in the last hour, some at checkout."""
    events = []
    for user in range(100, 140):
        for n in range(rng.randint(0, 6)):
            when = now - timedelta(minutes=rng.randint(5, 55))
            page = rng.choice(["home", "cart", "checkout"])
            events.append(
                {
                    "event_id": f"u{user}-{n}",
                    "user_id": user,
                    "amount": round(rng.uniform(1, 40), 2),
                    "page": page,
                    "ts": when.isoformat(),
                }
            )
    return events


def test_raw_events_to_a_prediction_by_entity_id(
    cli: Cli, teams, s3_bucket: str, clean_redis: str, settings, tmp_path: Path
) -> None:
    settings.ARTIFACT_ROOT = f"s3://{s3_bucket}/artifacts"
    settings.REDIS_URL = clean_redis  # the promotion is announced to the serve process
    api = httpx.Client(base_url=cli.url, headers={"Authorization": f"Bearer {cli.token('bob')}"})
    spec = tmp_path / "modelyard.yaml"
    spec.write_text(project())
    now = timezone.now()

    # A project with a source and two views (user_activity, and purchases filtered on it).
    applied = cli("apply", "-f", str(spec)).output
    assert "+ feature view user_activity" in applied
    assert "+ feature view purchases" in applied

    # Raw events over HTTP, into the online tiles and the raw event log on S3.
    events = click_events(now) + shoppers(now, random.Random(12))
    pushed = api.post("/api/v1/features/red/sources/clicks/events", json=events)
    assert pushed.json() == {"accepted": len(events), "duplicates": 0}, pushed.text
    logged = storage.get_store(settings.ARTIFACT_ROOT).list(settings.ARTIFACT_ROOT)
    assert any(entry.uri.endswith(".parquet") for entry in logged)

    # Online features over HTTP.
    online = api.get("/api/v1/features/red/user_activity/online", params={"user_id": 42}).json()
    assert online["results"][0]["features"]["spend_7d"] == 16.5

    # A point-in-time training set of every user now, and of user 42 forty minutes ago.
    entities = tmp_path / "entities.csv"
    rows = [(user, now) for user in range(100, 140)] + [
        (42, now),
        (42, now - timedelta(minutes=40)),
    ]
    entities.write_text("user_id,timestamp\n" + "".join(f"{u},{t.isoformat()}\n" for u, t in rows))
    training_uri = f"s3://{s3_bucket}/sets/train.parquet"
    wanted = ",".join(f"red/{name}" for name in FEATURES)
    cli("features", "training-set", "--entities", str(entities), "--features", wanted,
        "--output", training_uri)  # fmt: skip
    with storage.get_store(training_uri).open(training_uri) as stream:
        training = pq.read_table(io.BytesIO(stream.read()))
    matrix = np.column_stack([training.column(c).to_numpy(False) for c in COLUMNS]).astype(float)
    assert matrix[-2].tolist() == [3, 16.5, 6.5]  # user 42 now
    assert matrix[-1].tolist() == [1, 10.0, 0.0]  # and forty minutes ago: one click, 10.0

    # Train on it, register with a signature naming the features, promote through the gate.
    labels = (matrix[:, 0] >= 3).astype(int)
    estimator = LogisticRegression(max_iter=500).fit(matrix, labels)
    model_file = tmp_path / "model.joblib"
    joblib.dump(estimator, model_file)
    signature = {
        "inputs": [{"name": name, "type": "double"} for name in FEATURES],
        "outputs": [
            {"name": "label", "type": "long", "shape": [-1]},
            {"name": "probability", "type": "double", "shape": [-1, 2]},
        ],
    }
    example = json.dumps(matrix[:3].tolist())
    cli("models", "register", "red/by-user", str(model_file), "--flavor", "sklearn",
        "--signature", json.dumps(signature), "--example", example)  # fmt: skip
    assert "production" in cli("promote", "red/by-user", "1").output
    upstream = api.get("/api/v1/models/red/by-user/versions/1").json()["upstream"]
    assert {edge["ref"] for edge in upstream} == {"red/user_activity:1", "red/purchases:1"}

    # The prediction server fetches the features by entity id.
    with serve(tmp_path / "serve", clean_redis, "--models", "red/by-user") as url:
        answer = httpx.post(
            f"{url}/v1/models/by-user:predict?explain=features",
            json={"entities": [{"user_id": 42}, {"user_id": 7}]},
        )
        keys = {"name": "user_id", "shape": [2], "datatype": "INT64", "data": [42, 7]}
        v2 = httpx.post(f"{url}/v2/models/by-user/infer", json={"inputs": [keys]})
        missing = httpx.post(f"{url}/v1/models/by-user:predict", json={"entities": [{"id": 42}]})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["features"] == [
        dict(zip(FEATURES, [3, 16.5, 6.5], strict=True)),
        dict(zip(FEATURES, [1, 1.0, 0.0], strict=True)),
    ]
    expected = estimator.predict_proba(np.array([[3, 16.5, 6.5], [1, 1.0, 0.0]]))
    assert np.ravel(body["probability"]) == pytest.approx(expected.ravel(), abs=1e-5)
    assert body["predictions"] == [1, 0]
    assert v2.status_code == 200, v2.text
    assert {o["name"] for o in v2.json()["outputs"]} == {"label", "probability"}
    assert missing.status_code == 422
    assert missing.json()["field"] == "user_id"

    # Mirror to a second environment and diff (issue 12, "Environments") goes here, once
    # `modelyard features mirror`/`diff` are built: the same entity must answer the same.
