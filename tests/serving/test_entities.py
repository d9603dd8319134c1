"""A model whose signature names features is served by entity id: the server reads the online
store (one read per view), predicts, echoes the values with ?explain=features, and says which
key is missing."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from django.db import connections
from django.utils import timezone
from sklearn.linear_model import LogisticRegression

from modelyard.features import online, services
from modelyard.registry.models import Alias
from modelyard.serving import entities
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
from tests.features.conftest import (  # noqa: F401 - applied is a fixture
    BY_USER_INPUTS,
    applied,
    by_user_estimator,
    click_events,
    register_by_user,
)
from tests.serving.conftest import call

pytestmark = pytest.mark.django_db

INPUTS = BY_USER_INPUTS


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
    return by_user_estimator()


@pytest.fixture
def app(teams, applied, estimator) -> App:  # noqa: F811
    views = applied()
    services.ingest(teams["alice"], views["user_activity"].source, click_events(timezone.now()))
    version = register_by_user(teams["alice"], teams["red"], estimator)
    asset = version.asset
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
