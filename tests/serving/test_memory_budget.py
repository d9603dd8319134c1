"""Many models, one memory budget: the least recently used are unloaded and load again, cold,
on their next request."""

from __future__ import annotations

import orjson
import pytest

from modelyard.deployment.services import promote
from modelyard.registry import services
from modelyard.registry.models import Kind
from modelyard.serving import memory
from modelyard.serving.app import App
from modelyard.serving.fleet import Fleet
from tests.fixtures.models import SIGNATURE, _bytes, _joblib
from tests.serving.conftest import call, call_with_headers

pytestmark = pytest.mark.django_db(transaction=True)
BODY = orjson.dumps(
    {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": [1.0] * 30}]}
)


@pytest.fixture
def three_models(teams, estimators, cancer) -> list[str]:
    refs = []
    for name in ("a", "b", "c"):
        asset = services.create_asset(teams["alice"], Kind.MODEL, teams["red"], name)
        spec = services.VersionSpec(
            flavor="sklearn", signature=SIGNATURE, input_example=cancer[0][:2].tolist()
        )
        payload = _joblib(estimators["good"])
        version = services.register_version(
            teams["alice"], asset, spec, [_bytes("model.joblib", payload)]
        )
        promote(teams["alice"], asset, version, "production")
        refs.append(f"red/{name}")
    return refs


def states(app: App) -> dict[str, bool]:
    return {name: slot.cold for name, slot in app.fleet.slots.items()}


def test_least_recently_used_models_are_unloaded_and_reload_on_demand(three_models) -> None:
    # A budget below any one model: the first loads, the others start cold (no load at start
    # for what does not fit: a server of thousands of models starts in seconds).
    app = App(Fleet.from_refs(three_models, "production", budget_bytes=1))
    app.fleet.refresh()

    assert states(app) == {"a": False, "b": True, "c": True}
    assert call(app, "GET", "/v2/health/ready")[0] == 200  # cold models are ready on demand
    status, body, headers = call_with_headers(app, "POST", "/v2/models/b/infer", BODY)
    warm = call_with_headers(app, "POST", "/v2/models/b/infer", BODY)[2]

    assert status == 200, body
    assert headers.get(b"x-modelyard-cold-load") == b"1"  # this request waited for a load
    assert b"x-modelyard-cold-load" not in warm
    assert states(app) == {"a": True, "b": False, "c": True}
    models = orjson.loads(call(app, "GET", "/v1/models")[1])["models"]
    assert [m["cold"] for m in models] == [True, False, True]
    assert models[1]["footprint_mb"] > 0
    metrics = call(app, "GET", "/metrics")[1].decode()
    assert 'modelyard_cold_loads_total{model="b"} 1.0' in metrics


def test_a_budget_that_fits_everything_unloads_nothing(three_models) -> None:
    app = App(Fleet.from_refs(three_models, "production", budget_bytes=2**40))
    app.fleet.refresh()

    assert states(app) == {"a": False, "b": False, "c": False}


class Fake:
    def __init__(self, name: str, footprint: int, last_used: float) -> None:
        self.name, self.footprint, self.last_used = name, footprint, last_used
        self.is_loaded = True


def test_unloading_goes_from_least_recently_used_until_it_fits() -> None:
    old, middle, new, just_loaded = (
        Fake("o", 50, 1),
        Fake("m", 50, 2),
        Fake("n", 50, 3),
        Fake("j", 50, 0),
    )

    victims = memory.to_unload([old, middle, new, just_loaded], just_loaded, budget_bytes=120)

    assert [v.name for v in victims] == ["o", "m"]
