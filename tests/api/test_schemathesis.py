"""The whole API against its own OpenAPI document: schemathesis generates requests (valid
and invalid) for every operation, as platform staff and as a plain member, and the run fails
on any 5xx and on any answer the document does not describe (status, content type, body,
headers). A fixed seed and a bounded number of examples keep it repeatable and CI-sized.

This runs the real app through WSGI on the test database (PostgreSQL under
`make test-postgres`); only the jobs executor is swapped so that no program is started.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from modelyard.accounts.tokens import create_token
from modelyard.api.main import api
from modelyard.registry import services
from modelyard.registry.models import Kind

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1"))
app = get_wsgi_application()


@pytest.fixture
def connection_kept() -> Iterator[None]:
    """Keep the test's database connection (and transaction) across requests, as Django's
    test client does: the WSGI handler closes connections when a request finishes."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(
    connection_kept: None, teams: dict[str, Any], artifact_root: Path, settings: Any
) -> dict[str, str]:
    """Staff and a member of red, with a model and a data set of red to aim at."""
    settings.RUN_EXECUTOR = "tests.jobs.fakes.RecordingExecutor"
    staff = User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)
    staff.is_superuser = True
    staff.save()
    for kind, name in ((Kind.MODEL, "churn"), (Kind.DATASET, "sales")):
        asset = services.create_asset(teams["alice"], kind, teams["red"], name)
        source = services.ArtifactSource(name="data.csv", stream=_csv(), size=6)
        services.register_version(teams["alice"], asset, services.VersionSpec(), [source])
    return {
        "staff": create_token(staff, "fuzz")[1],
        "member": create_token(teams["bob"], "fuzz")[1],
    }


def _csv() -> Any:
    return io.BytesIO(b"a,b\n1,")


@pytest.mark.parametrize("who", ["staff", "member"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@seed(20261201)
def test_api_conforms_to_its_openapi_document(case: Any, who: str, tokens: dict[str, str]) -> None:
    case.call_and_validate(
        app=app, headers={"Authorization": f"Bearer {tokens[who]}"}, checks=CHECKS
    )
