"""The server's routes, called in-process: predictions, metadata, health, and 422s that name
the field."""

from __future__ import annotations

import orjson
import pytest

from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
from tests.fixtures.models import COLUMNS
from tests.serving.conftest import call

pytestmark = pytest.mark.django_db


def infer(app: App, body: object, path: str = "/v2/models/churn/infer") -> tuple[int, dict]:
    status, raw = call(app, "POST", path, orjson.dumps(body))
    return status, orjson.loads(raw)


def tensor(rows: list[list[float]], name: str = "input", datatype: str = "FP64") -> dict:
    flat = [value for row in rows for value in row]
    return {"name": name, "shape": [len(rows), len(rows[0])], "datatype": datatype, "data": flat}


@pytest.fixture
def app(production, fleet_of) -> App:
    production()
    return App(fleet_of())


def test_v2_infer_matches_the_model(app, cancer, estimators) -> None:
    rows = cancer[0][:4].tolist()

    status, body = infer(app, {"id": "r1", "inputs": [tensor(rows)]})

    assert status == 200, body
    assert (body["model_name"], body["model_version"], body["id"]) == ("churn", "1", "r1")
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["probability"]["shape"] == [4, 2]
    expected = estimators["good"].predict_proba(cancer[0][:4])[:, 1]
    assert outputs["probability"]["data"][1::2] == pytest.approx(expected, abs=1e-4)
    assert outputs["label"]["data"] == estimators["good"].predict(cancer[0][:4]).tolist()


def test_one_tensor_per_column_and_requested_outputs(app, cancer) -> None:
    rows = cancer[0][:2]
    inputs = [
        {"name": name, "shape": [2], "datatype": "FP32", "data": rows[:, i].tolist()}
        for i, name in enumerate(COLUMNS)
    ]

    status, body = infer(app, {"inputs": inputs, "outputs": [{"name": "label"}]})

    assert status == 200, body
    assert [o["name"] for o in body["outputs"]] == ["label"]


def test_v1_predict_takes_lists_and_objects(app, cancer, estimators) -> None:
    row = cancer[0][0].tolist()
    path = "/v1/models/churn:predict"

    status, by_list = infer(app, {"instances": [row]}, path)
    _, by_name = infer(app, {"instances": [dict(zip(COLUMNS, row, strict=True))]}, path)

    assert status == 200
    assert by_list["predictions"] == by_name["predictions"]
    assert by_list["predictions"] == estimators["good"].predict(cancer[0][:1]).tolist()
    assert len(by_list["probability"][0]) == 2


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"inputs": [tensor([[1.0, 2.0]])]}, "input", "expected rows of 30 values"),
        ({"inputs": [{**tensor([[1.0] * 30]), "data": ["a"] * 30}]}, "input", "numbers only"),
        ({"inputs": [{**tensor([[1.0] * 30]), "shape": [2, 30]}]}, "input", "needs 60 values"),
        ({"inputs": [tensor([[1.0] * 30], datatype="BYTES")]}, "input", "datatype"),
        (
            {
                "inputs": [
                    {"name": n, "shape": [1], "datatype": "FP64", "data": [1]} for n in ("f0", "f2")
                ]
            },
            "f1",
            "missing input",
        ),
        ({"inputs": []}, "inputs", "non-empty"),
        (
            {"inputs": [tensor([[1.0] * 30])], "outputs": [{"name": "nope"}]},
            "outputs",
            "unknown output",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field(app, body, field, says) -> None:
    status, answer = infer(app, body)

    assert status == 422
    assert answer["field"] == field
    assert says in answer["error"]


def test_v1_missing_column_is_named(app) -> None:
    row = dict.fromkeys(COLUMNS[:-1], 1.0)

    status, answer = infer(app, {"instances": [row]}, "/v1/models/churn:predict")

    assert (status, answer["field"]) == (422, "f29")


def test_not_json_and_unknown_routes(app) -> None:
    assert call(app, "POST", "/v2/models/churn/infer", b"{nope")[0] == 422
    assert call(app, "POST", "/v2/models/other/infer", b"{}")[0] == 404
    assert call(app, "POST", "/v2/models/churn/versions/7/infer", b"{}")[0] == 404
    assert call(app, "GET", "/nowhere")[0] == 404
    assert call(app, "DELETE", "/v2/models/churn")[0] == 405


def test_metadata_health_and_metrics(app) -> None:
    status, raw = call(app, "GET", "/v2/models/churn")
    metadata = orjson.loads(raw)
    assert status == 200
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 30]}]
    assert metadata["parameters"]["columns"] == COLUMNS
    assert call(app, "GET", "/v2/models/churn/versions/1/ready")[0] == 200
    assert call(app, "GET", "/v2/health/live")[0] == 200
    assert call(app, "GET", "/v2/health/ready")[0] == 200
    infer(app, {"inputs": [tensor([[1.0] * 30])]})
    metrics = call(app, "GET", "/metrics")[1].decode()
    assert 'modelyard_requests_total{code="200",model="churn",version="1"}' in metrics
    assert "modelyard_model_load_seconds" in metrics


def test_not_ready_until_the_model_has_a_production_version(
    gated, register_model, estimators
) -> None:
    register_model(estimators["good"])
    app = App(Fleet.from_refs(["red/churn"], "production"))
    app.fleet.refresh()

    status, raw = call(app, "GET", "/v2/health/ready")

    assert status == 503
    assert "no 'production' alias" in orjson.loads(raw)["models"][0]["error"]
    assert call(app, "POST", "/v2/models/churn/infer", b"{}")[0] == 503


def test_predictions_count_as_uses_without_a_write_per_request(app) -> None:
    from modelyard.registry.access import tracker
    from modelyard.registry.models import AssetVersion

    tracker().flush()  # the load's own read of the files, before any request
    before = AssetVersion.objects.get(kind="model").last_accessed_at
    for _ in range(5):
        assert infer(app, {"inputs": [tensor([[1.0] * 30])]})[0] == 200

    assert tracker().flush() == 1  # five requests, one buffered record
    assert AssetVersion.objects.get(kind="model").last_accessed_at > before
