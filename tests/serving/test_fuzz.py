"""Property-based fuzzing of the prediction routes: no body, however wrong, gets a 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelyard.serving.app import App
from modelyard.serving.v2 import DATATYPES
from tests.serving.conftest import call

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=40,
)
datatypes = st.sampled_from([*DATATYPES, "BYTES", "fp64", ""]) | st.text(max_size=4)
numbers = st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["input", "f0", "f1", "x"]) | st.text(max_size=3),
        "shape": st.lists(st.integers(-2, 40), max_size=3) | json_values,
        "datatype": datatypes,
        "data": st.lists(numbers | scalars, max_size=70) | json_values,
    },
    optional={"parameters": st.dictionaries(st.just("binary_data_size"), st.integers(-5, 500))},
)
v2_bodies = st.fixed_dictionaries(
    {"inputs": st.lists(tensors, max_size=3) | json_values},
    optional={"outputs": json_values, "id": json_values},
)
v1_bodies = st.fixed_dictionaries(
    {"instances": st.lists(st.lists(numbers | scalars, max_size=31), max_size=3) | json_values}
)


@pytest.fixture
def app(production, fleet_of) -> App:
    production()
    return App(fleet_of())


def assert_not_5xx(app: App, path: str, body: bytes, headers=()) -> None:
    status, answer = call(app, "POST", path, body, headers)
    assert status < 500, (status, body[:300], answer[:300])


@FUZZ
@given(body=v2_bodies)
def test_v2_infer_never_fails_with_5xx(app, body) -> None:
    assert_not_5xx(app, "/v2/models/churn/infer", json.dumps(body).encode())


@FUZZ
@given(body=v1_bodies | json_values)
def test_v1_predict_never_fails_with_5xx(app, body) -> None:
    assert_not_5xx(app, "/v1/models/churn:predict", json.dumps(body).encode())


@FUZZ
@given(raw=st.binary(max_size=300), length=st.none() | st.integers(-10, 400) | st.text(max_size=3))
def test_raw_bytes_and_binary_headers_never_fail_with_5xx(app, raw, length) -> None:
    headers = [] if length is None else [(b"inference-header-content-length", str(length).encode())]
    assert_not_5xx(app, "/v2/models/churn/infer", raw, headers)
