"""Whatever JSON a client sends, the registry answers 2xx or 4xx: never a 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
version_bodies = st.fixed_dictionaries(
    {},
    optional={
        "artifacts": st.lists(
            st.fixed_dictionaries({"name": st.text(max_size=20), "uri": st.text(max_size=40)})
            | values,
            max_size=2,
        ),
        "metrics": values,
        "tags": values,
        "lineage": values,
        "created_at": values,
        "flavor": values,
        "signature": values,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=version_bodies)
def test_register_version_never_5xx(alice, artifact_root: Path, body) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    response = alice.client.post(
        "/api/v1/models/red/churn/versions",
        data=json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code < 500, response.content


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=values)
def test_create_asset_never_5xx(alice, body) -> None:
    response = alice.client.post(
        "/api/v1/datasets", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code < 500, response.content
