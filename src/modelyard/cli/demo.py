"""A small demo catalog for an empty database, trained on data that ships with scikit-learn.

It shows what a real team's catalog looks like: a data set, a feature set derived from
it, three model versions trained on it with metrics and lineage, a production and a
staging alias, and versions last used long ago (what the lifecycle system will act on);
and the feature store at work (demo_features.py): raw events, two views, and a model in
production that predicts by user id.

It lives with the CLI (`modelyard up` seeds it) because it drives several apps' services,
the registry's and the promotion gate's; import it only after Django is set up.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from modelyard.accounts.models import Team
from modelyard.accounts.services import create_team
from modelyard.registry import services
from modelyard.registry.models import Asset, AssetVersion, Kind

TEAM = "demo"
DATASET = "breast-cancer"
FEATURE_SET = "cancer-features"
MODEL = "cancer-classifier"
REQUEST_FILE = "cancer-request.json"


@dataclass(frozen=True)
class Trained:
    name: str
    estimator: Any
    days_unused: int


def seed_demo(owner: User) -> bool:
    """Seed once; return False when the catalog already has anything in it."""
    if Asset.objects.exists():
        return False
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    team = _team(owner)
    dataset = _dataset(owner, team, data)
    features = _feature_set(owner, team, data, dataset)
    versions = _models(owner, team, data, [dataset, features])
    best = max(versions, key=lambda v: v.metrics["roc_auc"])
    _deploy(owner, versions[0].asset, dataset, best, versions[-1])
    write_request(settings.HOME, data.data[:1])
    from modelyard.cli.demo_features import seed_feature_demo

    seed_feature_demo(owner, team)
    return True


def _deploy(
    owner: User, model: Asset, data: AssetVersion, best: AssetVersion, newest: AssetVersion
) -> None:
    """Through the promotion gate, as a team would: judged on the data set by ROC AUC."""
    from modelyard.deployment import services as deployment

    deployment.configure_gate(owner, model, metric="roc_auc", evaluation_data=data)
    deployment.promote(owner, model, best, "production", reason="demo: best ROC AUC")
    deployment.promote(owner, model, newest, "staging", reason="demo: newest candidate")


def _team(owner: User) -> Team:
    with transaction.atomic():
        return create_team(
            owner,
            TEAM,
            display_name="Demo team",
            contact_email="demo-team@example.com",
            owner=owner,
        )


def _csv(features: np.ndarray[Any, Any], header: list[str]) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, features, delimiter=",", header=",".join(header), comments="", fmt="%.6g")
    return buffer.getvalue().encode()


def _days_ago(days: int) -> Any:
    return timezone.now() - timedelta(days=days)


def _dataset(owner: User, team: Team, data: Any) -> AssetVersion:
    columns = [*data.feature_names, "target"]
    rows = np.column_stack([data.data, data.target])
    asset = services.create_asset(
        owner,
        Kind.DATASET,
        team,
        DATASET,
        description="Wisconsin breast cancer (scikit-learn)",
        tags={"source": "sklearn"},
    )
    spec = services.VersionSpec(
        flavor="csv",
        created_at=_days_ago(70),
        last_accessed_at=_days_ago(70),
        signature={"columns": [{"name": c, "type": "double"} for c in columns]},
        metrics={"rows": float(len(rows))},
    )
    return services.register_version(owner, asset, spec, [_bytes("data.csv", _csv(rows, columns))])


def _feature_set(owner: User, team: Team, data: Any, dataset: AssetVersion) -> AssetVersion:
    standardized = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    asset = services.create_asset(
        owner, Kind.FEATURE_SET, team, FEATURE_SET, description="Standardized tumour measurements"
    )
    spec = services.VersionSpec(
        flavor="csv",
        lineage=[(dataset, "derived_from")],
        signature={"columns": [{"name": c, "type": "double"} for c in data.feature_names]},
    )
    payload = _csv(standardized, list(data.feature_names))
    return services.register_version(owner, asset, spec, [_bytes("features.csv", payload)])


def _models(owner: User, team: Team, data: Any, upstream: list[AssetVersion]) -> list[AssetVersion]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    split = train_test_split(data.data, data.target, test_size=0.25, random_state=0)
    candidates = [
        Trained(
            "logistic-regression",
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            65,
        ),
        Trained("random-forest", RandomForestClassifier(n_estimators=50, random_state=0), 40),
        Trained("gradient-boosting", GradientBoostingClassifier(random_state=0), 0),
    ]
    asset = services.create_asset(
        owner,
        Kind.MODEL,
        team,
        MODEL,
        description="Predicts malignant vs benign tumours",
        tags={"task": "classification"},
    )
    signature = model_signature(list(data.feature_names))
    example = [dict(zip(data.feature_names, map(float, row), strict=True)) for row in split[1][:3]]
    return [
        _model_version(owner, asset, c, split, signature, example, upstream) for c in candidates
    ]


def model_signature(features: list[str]) -> dict[str, Any]:
    return {
        "inputs": [{"name": name, "type": "double"} for name in features],
        # Every output a response carries (a classifier's label and probabilities), so the
        # V2 metadata lists them all.
        "outputs": [
            {"name": "label", "type": "long", "shape": [-1]},
            {"name": "probability", "type": "double", "shape": [-1, 2]},
        ],
    }


def write_request(home: Path, rows: np.ndarray[Any, Any]) -> Path:
    """A V2 request with real rows of the demo's 30 features, for the README's `curl -d @…`:
    nobody should have to type 30 numbers to see a prediction."""
    path = home / "demo" / REQUEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tensor = {"name": "input", "shape": list(rows.shape), "datatype": "FP64"}
    path.write_text(json.dumps({"inputs": [{**tensor, "data": rows.ravel().tolist()}]}) + "\n")
    return path


def _model_version(
    owner: User,
    asset: Asset,
    trained: Trained,
    split: list[Any],
    signature: dict[str, Any],
    example: list[dict[str, float]],
    upstream: list[AssetVersion],
) -> AssetVersion:
    from sklearn.metrics import accuracy_score, roc_auc_score

    x_train, x_test, y_train, y_test = split
    estimator = trained.estimator.fit(x_train, y_train)
    probability = estimator.predict_proba(x_test)[:, 1]
    metrics = {
        "roc_auc": round(float(roc_auc_score(y_test, probability)), 4),
        "accuracy": round(float(accuracy_score(y_test, estimator.predict(x_test))), 4),
    }
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    when = _days_ago(trained.days_unused)
    spec = services.VersionSpec(
        description=trained.name,
        flavor="sklearn",
        signature=signature,
        input_example=example,
        metrics=metrics,
        params={"estimator": trained.name},
        created_at=when,
        last_accessed_at=when,
        lineage=[(version, "trained_on") for version in upstream],
    )
    return services.register_version(
        owner, asset, spec, [_bytes("model.joblib", buffer.getvalue())]
    )


def _bytes(name: str, payload: bytes) -> services.ArtifactSource:
    return services.ArtifactSource(name=name, stream=io.BytesIO(payload), size=len(payload))
