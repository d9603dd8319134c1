"""A model whose signature names features is served by entity id: the server reads the online
store (one read per view), predicts, echoes the values with ?explain=features, and says which
key is missing."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import joblib
import numpy as np
import orjson
import pytest
from django.db import connections
from django.utils import timezone
from sklearn.linear_model import LogisticRegression

from modelyard.features import online, services
from modelyard.registry import services as registry
from modelyard.registry.models import Alias, Kind
from modelyard.serving import entities
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
from tests.features.conftest import applied  # noqa: F401 - the fixture
from tests.serving.conftest import call

pytestmark = pytest.mark.django_db

INPUTS = ["user_activity:clicks_7d", "user_activity:spend_7d", "purchases:purchase_spend"]


def events(now: Any) -> list[dict[str, Any]]:
    def event(n: int, user: int, amount: float, page: str, minutes: int) -> dict[str, Any]:
        when = (now - timedelta(minutes=minutes)).isoformat()
        return {"event_id": str(n), "user_id": user, "amount": amount, "page": page, "ts": when}

    return [
        event(1, 42, 10.0, "home", 50),
        event(2, 42, 2.5, "checkout", 30),
        event(3, 42, 4.0, "checkout", 20),
        event(4, 7, 1.0, "home", 10),
    ]


@pytest.fixture(autouse=True)
def _reads_on_the_test_thread(monkeypatch) -> None:
    """The server reads the store on an executor thread, whose own connection cannot see this
    test's uncommitted rows: read on the loop, through the test's connection, instead
    (tests/features/test_acceptance.py serves a real process, threads and all)."""
    connection = connections["default"]

    async def here(read, argument):
        connections["default"] = connection  # the loop's context would open its own
        return read(argument)

    monkeypatch.setattr(entities, "off_the_loop", here)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the read is on the loop here


@pytest.fixture
def estimator() -> LogisticRegression:
    rows = np.array([[0, 0, 0], [1, 10, 0], [3, 16, 6.5], [5, 30, 20], [2, 3, 1], [0, 1, 0]])
    return LogisticRegression().fit(rows, [0, 0, 1, 1, 1, 0])


@pytest.fixture
def app(teams, applied, estimator) -> App:  # noqa: F811
    views = applied()
    services.ingest(teams["alice"], views["user_activity"].source, events(timezone.now()))
    asset = registry.create_asset(teams["alice"], Kind.MODEL, teams["red"], "by-user")
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    spec = registry.VersionSpec(
        flavor="sklearn",
        signature={
            "inputs": [{"name": name, "type": "double"} for name in INPUTS],
            "outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}],
        },
        input_example=[[1, 10.0, 0.0], [3, 16.5, 6.5]],
    )
    payload = buffer.getvalue()
    source = registry.ArtifactSource("model.joblib", stream=io.BytesIO(payload), size=len(payload))
    version = registry.register_version(teams["alice"], asset, spec, [source])
    # The alias set directly: the gate's sandbox is not what these tests are about.
    Alias.objects.create(asset=asset, name="production", version=version)
    fleet = Fleet.from_refs(["red/by-user"], "production")
    fleet.refresh()
    return App(fleet)


def post(app: App, path: str, body: object, query: bytes = b"") -> tuple[int, dict]:
    status, raw = call(app, "POST", path, orjson.dumps(body), query=query)
    return status, orjson.loads(raw)


def test_predicts_from_the_online_features_and_explains_them(app, estimator) -> None:
    entities = [{"user_id": 42}, {"user_id": 7}, {"user_id": 1000}]

    status, body = post(
        app, "/v1/models/by-user:predict", {"entities": entities}, b"explain=features"
    )

    assert status == 200, body
    assert body["features"] == [
        {INPUTS[0]: 3, INPUTS[1]: 16.5, INPUTS[2]: 6.5},
        {INPUTS[0]: 1, INPUTS[1]: 1.0, INPUTS[2]: 0.0},
        {INPUTS[0]: 0, INPUTS[1]: 0.0, INPUTS[2]: 0.0},  # no events yet: counts and sums 0
    ]
    rows = np.array([list(values.values()) for values in body["features"]], dtype=float)
    expected = estimator.predict_proba(rows).ravel()
    assert np.ravel(body["probability"]) == pytest.approx(expected, abs=1e-5)
    # What the online endpoint answers for the same entity, read the same way.
    view = services.get_view("red", "user_activity")
    assert online.read(view, [[42]])[0]["spend_7d"] == body["features"][0][INPUTS[1]]
    status, plain = post(app, "/v1/models/by-user:predict", {"entities": [{"user_id": 42}]})
    assert status == 200, plain
    assert "features" not in plain
    assert plain["probability"] == body["probability"][:1]


BAD = [
    ({"entities": [{"account": 42}]}, "user_id", "entity key(s) missing from entities[0]"),
    ({"entities": [{"user_id": "42"}]}, "user_id", "not a valid int key"),
    ({"entities": []}, "entities", "non-empty list of entities"),
    ({"instances": [[1, 2, 3]]}, "entities", "fetches its features"),
]


def test_bad_entities_are_422s_naming_the_field(app) -> None:
    for body, field, words in BAD:
        status, answer = post(app, "/v1/models/by-user:predict", body)

        assert status == 422, (body, answer)
        assert answer["field"] == field
        assert words in answer["error"]
    wrong = {"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}
    status, answer = post(app, "/v2/models/by-user/infer", {"inputs": [wrong]})
    assert status == 422, answer
    assert answer["field"] == "user_id"
    assert "takes its entity keys (user_id) as inputs" in answer["error"]


def test_v2_takes_the_keys_as_inputs_and_describes_them(app, estimator) -> None:
    key = {"name": "user_id", "shape": [2], "datatype": "INT64", "data": [42, 7]}

    status, body = post(app, "/v2/models/by-user/infer", {"id": "r1", "inputs": [key]})

    assert status == 200, body
    assert body["id"] == "r1"
    probability = next(o for o in body["outputs"] if o["name"] == "probability")
    expected = estimator.predict_proba(np.array([[3, 16.5, 6.5], [1, 1.0, 0.0]]))
    assert probability["data"] == pytest.approx(expected.ravel().tolist(), abs=1e-5)
    status, metadata = call(app, "GET", "/v2/models/by-user")
    metadata = orjson.loads(metadata)
    assert metadata["inputs"] == [{"name": "user_id", "datatype": "INT64", "shape": [-1]}]
    assert metadata["parameters"] == {"entity_keys": ["user_id"], "features": INPUTS}
