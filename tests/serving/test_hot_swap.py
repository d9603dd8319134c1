"""A real server on a socket: promotions swap versions under load with no failed request,
a version that fails to load leaves the old one serving, and Triton's own client works."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import numpy as np
import pytest

from modelyard.deployment.services import promote
from modelyard.serving.app import App
from tests.serving.conftest import running

pytestmark = pytest.mark.django_db(transaction=True)
BODY = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": [1.0] * 30}]}


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Load:
    """Clients sending predictions in a loop, counting statuses and served versions."""

    def __init__(self, url: str, clients: int = 4) -> None:
        self.url = f"{url}/v2/models/churn/infer"
        self.statuses: Counter[int] = Counter()
        self.versions: list[str] = []
        self.per_client: list[list[str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        seen: list[str] = []
        with self.lock:
            self.per_client.append(seen)
        with httpx.Client() as client:
            while not self.stop.is_set():
                response = client.post(self.url, json=BODY)
                with self.lock:
                    self.statuses[response.status_code] += 1
                    if response.status_code == 200:
                        self.versions.append(response.json()["model_version"])
                        seen.append(self.versions[-1])

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def test_promotion_swaps_versions_under_load_without_a_failed_request(
    teams, gated, production, register_model, estimators, fleet_of
) -> None:
    production(estimators["weak"])
    app = App(fleet_of(poll_seconds=0.1))
    with running(app) as url, Load(url) as load:
        wait_for(lambda: len(load.versions) > 50)
        promote(teams["alice"], gated, register_model(estimators["good"]), "production")
        wait_for(lambda: load.versions[-1] == "2")
        wait_for(lambda: load.versions.count("2") > 50)

    assert set(load.statuses) == {200}, load.statuses
    assert load.versions[0] == "1"
    assert load.versions.index("2") > 50
    # One atomic swap: once a client got the new version, none of its later requests got
    # the old one (across clients, a slow in-flight request may still land later).
    for seen in load.per_client:
        assert "1" not in seen[seen.index("2") :] if "2" in seen else True


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    production, register_model, fleet_of
) -> None:
    production()
    app = App(fleet_of(poll_seconds=0.1))
    with running(app) as url, httpx.Client(base_url=url) as client:
        production(b"not a model at all", force=True)
        wait_for(lambda: app.fleet.slots["churn"].error != "")

        answer = client.post("/v2/models/churn/infer", json=BODY)
        status = client.get("/v1/models").json()["models"][0]
        metrics = client.get("/metrics").text

    assert answer.status_code == 200
    assert answer.json()["model_version"] == "1"
    assert status["version"] == 1
    assert "red/churn:2 failed to load" in status["error"]
    assert 'modelyard_model_load_failures_total{model="churn"} 1.0' in metrics


def test_the_official_triton_client_gets_correct_predictions(
    production, fleet_of, cancer, estimators
) -> None:
    import tritonclient.http as triton

    production()
    rows = np.ascontiguousarray(cancer[0][:5], dtype=np.float64)
    with running(App(fleet_of())) as url:
        client = triton.InferenceServerClient(url=url.removeprefix("http://"))
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("churn")
        metadata = client.get_model_metadata("churn")
        given = triton.InferInput("input", list(rows.shape), "FP64")
        given.set_data_from_numpy(rows)  # binary tensor data, the client's default
        result = client.infer(
            "churn", [given], outputs=[triton.InferRequestedOutput("probability")]
        )
        client.close()

    assert metadata["inputs"][0]["shape"] == [-1, 30]
    expected = estimators["good"].predict_proba(cancer[0][:5])
    assert result.as_numpy("probability") == pytest.approx(expected, abs=1e-4)
