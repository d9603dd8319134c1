"""The feature store's part of the demo: a shop's raw events, two views, and a model that
predicts by user id.

`up` seeds a `shop_events` source with generated events of 200 users over the last 20 days,
the views `user_activity` and `big_spends`, and `user-churn`, a model trained on a
point-in-time training set of those features and promoted to production, so

    curl -s 'localhost:8080/v1/models/user-churn:predict?explain=features' \
      -d '{"entities": [{"user_id": 42}]}'

predicts from user 42's features as the online store holds them. Import it only after
Django is set up.
"""

from __future__ import annotations

import io
import random
from datetime import timedelta
from typing import Any

import joblib
import numpy as np
import pyarrow as pa
from django.contrib.auth.models import User
from django.utils import timezone

from modelyard.accounts.models import Team
from modelyard.features import services as features
from modelyard.features import spec as features_spec
from modelyard.features.lookup import FeatureLookup
from modelyard.features.references import feature_inputs
from modelyard.registry import services
from modelyard.registry.models import AssetVersion, Kind

PROJECT = "demo-shop"
MODEL = "user-churn"
USERS = 200
DAYS = 20
SPEC = """\
features:
  entities:
    user: [user_id]
  sources:
    shop_events:
      entity: user
      event_time: ts
      lateness: 30d
      schema: {event_id: string, user_id: int, amount: float, kind: string, ts: timestamp}
  views:
    user_activity:
      source: shop_events
      description: What each user did on the shop lately
      features:
        visits_7d: {agg: count, window: 7d}
        spend_7d: {agg: sum, column: amount, window: 7d}
        visits_30d: {agg: count, window: 30d}
    big_spends:
      source: shop_events
      description: Purchases over 50
      filter: amount > 50
      features:
        big_purchases_30d: {agg: count, window: 30d}
"""
INPUTS = [
    "user_activity:visits_7d",
    "user_activity:spend_7d",
    "user_activity:visits_30d",
    "big_spends:big_purchases_30d",
]


def seed_feature_demo(owner: User, team: Team) -> AssetVersion:
    """Apply the views, push the events, train on a training set, promote to production."""
    spec, problems = features_spec.parse(SPEC)
    assert not problems, problems  # the demo's own text
    features.apply(owner, team, PROJECT, spec)
    source = features.get_source(team.name, "shop_events")
    features.ingest(owner, source, _events(random.Random(7)))  # noqa: S311 - demo data
    version = _train(owner, team)
    from modelyard.deployment import services as deployment

    deployment.promote(owner, version.asset, version, "production", reason="demo")
    return version


def _events(rng: random.Random) -> list[dict[str, Any]]:
    """Users of three habits: frequent, occasional, and lapsing (active early, then gone)."""
    now = timezone.now()
    events = []
    for user_id in range(1, USERS + 1):
        habit = user_id % 3
        visits = (40, 12, 15)[habit]
        for number in range(visits):
            days_ago = rng.uniform(10, DAYS) if habit == 2 else rng.uniform(0, DAYS)
            events.append(
                {
                    "event_id": f"{user_id}-{number}",
                    "user_id": user_id,
                    "amount": round(rng.expovariate(1 / 30), 2),
                    "kind": rng.choice(["view", "cart", "purchase"]),
                    "ts": (now - timedelta(days=days_ago)).isoformat(),
                }
            )
    return events


def _train(owner: User, team: Team) -> AssetVersion:
    from sklearn.linear_model import LogisticRegression

    refs = feature_inputs(INPUTS)
    assert refs is not None
    lookup = FeatureLookup.resolve(team.name, refs)
    when = timezone.now() - timedelta(days=3)
    users = list(range(1, USERS + 1))
    entities = pa.table({"user_id": users, "timestamp": [when] * len(users)})
    table = lookup.training_table(entities, "timestamp")
    rows = np.column_stack([np.nan_to_num(table.column(n).to_numpy(False)) for n in INPUTS])
    labels = np.array([int(user % 3 == 2) for user in users])  # the lapsing users churn
    estimator = LogisticRegression(max_iter=500).fit(rows, labels)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    asset = services.create_asset(
        owner, Kind.MODEL, team, MODEL, description="Will this user stop visiting? By user id."
    )
    spec = services.VersionSpec(
        description="logistic regression on the user's recent activity",
        flavor="sklearn",
        signature={
            "inputs": [{"name": name, "type": "double"} for name in INPUTS],
            "outputs": [
                {"name": "label", "type": "long", "shape": [-1]},
                {"name": "probability", "type": "double", "shape": [-1, 2]},
            ],
        },
        input_example=rows[:3].tolist(),
        metrics={"accuracy": round(float(estimator.score(rows, labels)), 4)},
    )
    payload = buffer.getvalue()
    source = services.ArtifactSource("model.joblib", stream=io.BytesIO(payload), size=len(payload))
    return services.register_version(owner, asset, spec, [source])
