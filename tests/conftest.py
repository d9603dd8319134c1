"""The shared base: two teams with members, one outsider, and authenticated API clients.

- team `red`: alice (owner), bob (member)
- team `blue`: carol (owner)
- mallory: signed in, on no team
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from modelyard.accounts.models import Role, Team
from modelyard.accounts.services import create_team, set_membership
from modelyard.accounts.tokens import create_token

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.s3",
    "tests.fixtures.smtp",
    "tests.fixtures.hive",
    "tests.fixtures.models",
    "tests.fixtures.cli",
    "tests.fixtures.spark",
]


# Fixtures through which a test reaches the test database (pytest-django's own).
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
    }
)


def uses_test_database(item: pytest.Item) -> bool:
    """True when the test may touch the database the run is configured with: pytest-django
    refuses database access to every other test, so those behave the same on any database."""
    if item.get_closest_marker("django_db"):
        return True
    return bool(DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The SQLite run (MODELYARD_DATABASE_URL empty) runs only the tests that touch the
    database. The others (model loading, Spark clusters, `up` on its own embedded home,
    parsing, the CLI's local checks) cannot tell the two runs apart, so running them twice
    tests nothing new and costs minutes; the PostgreSQL run, CI's first, runs them all.
    Spark tests stay out too: they reach the database only through the API the CLI calls,
    and each run costs a minute of JVM start-up on 2 cores."""
    if os.environ.get("MODELYARD_DATABASE_URL"):
        return
    keep = [i for i in items if uses_test_database(i) and not i.get_closest_marker("spark")]
    if len(keep) < len(items):
        kept = set(keep)
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = keep


@pytest.fixture(autouse=True)
def own_config_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test signs the CLI in (`modelyard login`, `up`) to a config folder of its own,
    never the real ~/.config of whoever runs the tests."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


class Api:
    """A Django test client that signs requests with a bearer token and speaks JSON."""

    def __init__(self, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = Client(headers=headers)

    def _call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        call = getattr(self.client, method)
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return call(f"/api/v1{path}", **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self._call("post", path, body, **kwargs)

    def put(self, path: str, body: Any = None) -> Any:
        return self._call("put", path, body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self._call("patch", path, body)

    def delete(self, path: str, **params: Any) -> Any:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self.client.delete(f"/api/v1{path}" + (f"?{query}" if query else ""))

    def upload(self, path: str, files: dict[str, bytes], metadata: dict[str, Any]) -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        uploads = [
            SimpleUploadedFile(name.rsplit("/", 1)[-1], data) for name, data in files.items()
        ]
        meta = {**metadata, "upload_names": list(files)}
        return self.client.post(f"/api/v1{path}", {"files": uploads, "metadata": json.dumps(meta)})


@pytest.fixture
def teams(db: None) -> dict[str, Any]:
    users = {
        name: User.objects.create_user(name, f"{name}@example.com", "pw")
        for name in ("alice", "bob", "carol", "mallory")
    }
    red = create_team(None, "red", contact_email="red@example.com")
    blue = create_team(None, "blue", contact_email="blue@example.com")
    set_membership(None, red, users["alice"], Role.OWNER)
    set_membership(None, red, users["bob"], Role.MEMBER)
    set_membership(None, blue, users["carol"], Role.OWNER)
    return {"red": red, "blue": blue, **users}


def _api_for(user: User) -> Api:
    return Api(create_token(user, "test")[1])


@pytest.fixture
def alice(teams: dict[str, Any]) -> Api:
    return _api_for(teams["alice"])


@pytest.fixture
def bob(teams: dict[str, Any]) -> Api:
    return _api_for(teams["bob"])


@pytest.fixture
def carol(teams: dict[str, Any]) -> Api:
    return _api_for(teams["carol"])


@pytest.fixture
def mallory(teams: dict[str, Any]) -> Api:
    return _api_for(teams["mallory"])


@pytest.fixture
def anonymous(db: None) -> Api:
    return Api(None)


@pytest.fixture
def red(teams: dict[str, Any]) -> Team:
    return teams["red"]


@pytest.fixture
def artifact_root(tmp_path: Path, settings: Any) -> Path:
    """A fresh file:// artifact root per test."""
    root = tmp_path / "artifacts"
    root.mkdir()
    settings.ARTIFACT_ROOT = root.as_uri()
    return root


@pytest.fixture
def declare_store(db: None) -> Any:
    """`declare_store(uri, teams=["red"] or None for all, delete=False)`: a declared store."""
    from modelyard.registry.stores import declare_store as declare

    def declare_one(uri: str, teams: list[str] | None = None, delete: bool = False) -> Any:
        chosen = None if teams is None else [Team.objects.get(name=name) for name in teams]
        return declare("test", uri, teams=chosen, allow_delete=delete)

    return declare_one


@pytest.fixture
def lake(tmp_path: Path, declare_store: Any) -> Path:
    """A folder outside the artifact root declared as a store every team may use and
    modelyard may delete in: where tests keep files registered by reference."""
    folder = tmp_path / "lake"
    folder.mkdir()
    declare_store(folder.as_uri() + "/", delete=True)
    return folder
