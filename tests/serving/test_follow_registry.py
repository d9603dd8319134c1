"""`modelyard serve --all`: every model with the alias is served, and the fleet follows the
registry without a restart — a model promoted later joins (at once when Redis announces it,
else by the poll), one that loses the alias leaves — at a cost that does not grow per request."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import orjson
import pytest

from modelyard.lib.errors import NotFound
from modelyard.registry import services
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet, Slot
from tests.serving.conftest import call, running
from tests.serving.test_serve_command import serve

pytestmark = pytest.mark.django_db(transaction=True)
BODY = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": [1.0] * 30}]}


def wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_fleet_follows_promotions_and_lost_aliases(teams, publish) -> None:
    first = publish("red/a")
    fleet = Fleet.following_registry("production", poll_seconds=60)
    fleet.refresh()
    assert set(fleet.slots) == {"a"}
    assert fleet.slots["a"].is_loaded

    publish("red/b")
    publish("blue/a")
    fleet.refresh()
    # Two teams' models named `a`: each is served as TEAM/NAME; TEAM/NAME always works.
    assert set(fleet.slots) == {"red/a", "blue/a", "b"}
    assert fleet.find("red/b") is fleet.slots["b"]
    assert fleet.find("a") is None
    assert all(slot.is_loaded for slot in fleet.slots.values())

    services.remove_alias(teams["alice"], first.asset, "production")
    fleet.refresh()
    assert set(fleet.slots) == {"a", "b"}
    assert fleet.find("a") is fleet.find("blue/a")


def test_a_team_scoped_fleet_serves_only_that_team(teams, publish) -> None:
    publish("red/a")
    publish("blue/c")
    fleet = Fleet.following_registry("production", team="blue")
    fleet.refresh()

    assert set(fleet.slots) == {"c"}
    with pytest.raises(NotFound, match="No team named 'green'"):
        Fleet.following_registry("production", team="green")


def test_a_model_promoted_while_serving_is_served_after_the_poll(teams, publish) -> None:
    """No Redis here: the watcher's poll alone finds the promotion, and the loss of the alias."""
    app = App(Fleet.following_registry("production", poll_seconds=0.1))
    app.fleet.refresh()
    with running(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/v2/health/ready").status_code == 200  # nothing to serve yet
        before = client.post("/v2/models/late/infer", json=BODY)
        version = publish("red/late")
        wait_for(lambda: client.post("/v2/models/late/infer", json=BODY).status_code == 200)
        by_ref = client.post("/v2/models/red/late/infer", json=BODY)

        services.remove_alias(teams["alice"], version.asset, "production")
        wait_for(lambda: client.post("/v2/models/late/infer", json=BODY).status_code == 404)

    assert before.status_code == 404
    assert "no model has the 'production' alias yet" in before.json()["error"]
    assert by_ref.json()["model_version"] == "1"


def test_steady_state_costs_one_query_per_poll_and_none_per_request(
    publish, django_assert_num_queries
) -> None:
    for name in ("a", "b", "c"):
        publish(f"red/{name}")
    app = App(Fleet.following_registry("production"))
    app.fleet.refresh()

    with django_assert_num_queries(1):  # one query for the whole fleet, however many models
        app.fleet.refresh()
    with django_assert_num_queries(0):
        statuses = [
            call(app, "POST", f"/v2/models/{name}/infer", orjson.dumps(BODY))[0]
            for name in ("a", "b", "c") * 5
        ]
    assert statuses == [200] * 15
    # Small bookkeeping per model: no per-instance __dict__, no thread of its own.
    assert not hasattr(app.fleet.slots["a"], "__dict__")
    assert Slot.__slots__
    threads = threading.active_count()
    app.fleet.start_watching()
    try:
        assert threading.active_count() - threads <= 2  # the watcher (and a Redis listener)
    finally:
        app.fleet.stop()


@pytest.mark.integration
def test_serve_all_serves_a_model_promoted_after_it_started(
    publish, clean_redis, settings, tmp_path
) -> None:
    """What `modelyard up` runs: a model promoted while it runs answers without a restart.
    Polling every 60 s, so an answer within seconds comes from the Redis announcement."""
    settings.REDIS_URL = clean_redis  # the promotion below is announced
    publish("red/first")
    with (
        serve(tmp_path, clean_redis, "--all", "--poll-seconds", "60") as url,
        httpx.Client(base_url=url) as client,
    ):
        before = client.post("/v2/models/mymodel/infer", json=BODY)
        publish("blue/mymodel")
        wait_for(lambda: client.post("/v2/models/mymodel/infer", json=BODY).status_code == 200)
        served = {m["name"] for m in client.get("/v1/models").json()["models"]}

    assert before.status_code == 404
    assert "No model 'mymodel' is served here; serving: first." in before.json()["error"]
    assert served == {"first", "mymodel"}
