"""Online features read from the prediction server (`/v1/features/…/online`): the same
answer as the API, on Redis inline and on the database over real HTTP, with 4xx naming
what was wrong, and each view's freshness on /metrics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import time_machine

from modelyard.client import Client
from modelyard.features import services
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
from tests.features import conftest as features
from tests.serving.conftest import call, running

NOW = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)
PATH = "/v1/features/red/user_activity/online"
applied = features.applied  # team red's project with the clicks source and two views


def click(event_id: str, user_id: int, minutes_ago: int, amount: float) -> dict[str, Any]:
    moment = NOW - timedelta(minutes=minutes_ago)
    return {
        "event_id": event_id,
        "user_id": user_id,
        "amount": amount,
        "page": "home",
        "ts": moment.isoformat(),
    }


def pushed(applied: Any) -> Any:
    views = applied()
    source = views["user_activity"].source
    services.ingest(
        "test", source, [click("a", 42, 10, 5.0), click("b", 42, 20, 7.5), click("c", 7, 5, 1.0)]
    )
    return views


def server() -> App:
    return App(Fleet("production", {}))  # features only: no model is needed


@pytest.mark.integration
@pytest.mark.django_db
def test_reads_on_redis_answer_like_the_api(applied, clean_redis, settings, bob) -> None:
    settings.FEATURES_ONLINE_STORE = clean_redis
    with time_machine.travel(NOW, tick=False):
        pushed(applied)
        app = server()
        app.features.refresh()
        status, one = call_with_query(app, "GET", PATH, "user_id=42", b"")
        batch_status, many = call(
            app,
            "POST",
            PATH,
            orjson.dumps({"entities": [{"user_id": 42}, {"user_id": 7}, {"user_id": 1}]}),
        )
        api = bob.get("/features/red/user_activity/online", user_id=42).json()
        _, metrics = call(app, "GET", "/metrics")

    assert (status, batch_status) == (200, 200)
    one, many = orjson.loads(one), orjson.loads(many)
    assert one == api
    assert one["results"][0]["features"]["clicks_1h"] == 2
    assert one["freshness_seconds"] == pytest.approx(5 * 60)
    assert [r["features"]["spend_7d"] for r in many["results"]] == [12.5, 1.0, 0.0]
    assert [r["entity"] for r in many["results"]] == [
        {"user_id": 42},
        {"user_id": 7},
        {"user_id": 1},
    ]
    assert b'modelyard_feature_freshness_seconds{view="red/user_activity"} 300.0' in metrics


@pytest.mark.integration
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", PATH, b"", 422, "Entity key 'user_id' is missing"),
        ("GET", PATH + "?user_id=x", b"", 422, "'x' is not a valid int"),
        ("POST", PATH, b"{", 422, "not valid JSON"),
        ("POST", PATH, b'{"entities": []}', 422, "1 to 1000 entities"),
        ("POST", PATH, b'{"entities": [7]}', 422, "Each entity is an object"),
        (
            "GET",
            "/v1/features/red/nothing/online?user_id=1",
            b"",
            404,
            "No feature view red/nothing",
        ),
        ("GET", "/v1/features/red/user_activity", b"", 404, "No route"),
    ],
)
def test_bad_reads_say_what_is_wrong(
    applied, clean_redis, settings, method, path, body, status, message
) -> None:
    settings.FEATURES_ONLINE_STORE = clean_redis
    applied()
    app = server()
    app.features.refresh()
    path, _, query = path.partition("?")

    answered, raw = call_with_query(app, method, path, query, body)

    assert answered == status
    assert message in orjson.loads(raw)["error"]


def call_with_query(app: App, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
    """conftest's `call`, with the query string where ASGI puts it."""

    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "headers": []}
        await app({**scope, "query_string": query.encode()}, receive, send)
        return sent

    messages = asyncio.run(run())
    return messages[0]["status"], messages[1]["body"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_database_backend_over_http_and_the_client(applied) -> None:
    with time_machine.travel(NOW, tick=False):
        pushed(applied)
    app = server()
    with time_machine.travel(NOW, tick=False), running(app) as url:
        response = httpx.get(url + PATH, params={"user_id": 42})
        with Client(url="http://unused.invalid", token="t") as client:
            through_client = client.online_features(
                "red/user_activity", [{"user_id": 7}], serving_url=url
            )

    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["features"]["spend_7d"] == 12.5
    assert through_client["results"][0]["features"]["clicks_1h"] == 1
