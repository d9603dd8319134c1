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
from tests.serving.conftest import call

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
    # A budget below any one model: only the model loaded last stays in memory.
    app = App(Fleet.from_refs(three_models, "production", budget_bytes=1))
    app.fleet.refresh()

    assert states(app) == {"a": True, "b": True, "c": False}
    assert call(app, "GET", "/v2/health/ready")[0] == 200  # cold models are ready on demand
    status, body = call(app, "POST", "/v2/models/a/infer", BODY)

    assert status == 200, body
    assert states(app) == {"a": False, "b": True, "c": True}
    models = orjson.loads(call(app, "GET", "/v1/models")[1])["models"]
    assert [m["cold"] for m in models] == [False, True, True]
    assert models[0]["footprint_mb"] > 0
    metrics = call(app, "GET", "/metrics")[1].decode()
    assert 'modelyard_cold_loads_total{model="a"} 1.0' in metrics


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
