"""Stores are declared, not implied: registering by reference, reading and deleting happen
only inside a store the version's team may use (issue 10, findings 1 and 2)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from modelyard.audit.models import AuditEvent
from modelyard.lib.errors import Conflict
from modelyard.registry import services
from modelyard.registry.access import tracker
from modelyard.registry.models import Artifact, AssetVersion, LifecycleState

pytestmark = pytest.mark.django_db

REFUSED = "is not under a declared store that team 'red' may use"


@pytest.fixture(autouse=True)
def _write_uses_before_rollback() -> Iterator[None]:
    # Downloads here record uses in the process-wide tracker; left there, they would be
    # counted by the next test that flushes.
    yield
    tracker().flush()


@pytest.fixture
def churn(alice, artifact_root: Path) -> None:
    assert alice.post("/models", {"team": "red", "name": "churn"}).status_code == 201


def register(api: Any, uri: str, name: str = "churn", team: str = "red") -> Any:
    return api.post(f"/models/{team}/{name}/versions", {"artifacts": [{"name": "x", "uri": uri}]})


def body(response: Any) -> bytes:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def refused(response: Any, *words: str) -> str:
    assert response.status_code == 403, response.content
    message = response.json()["message"]
    for word in words:
        assert word in message
    return message


# --- registration by reference --------------------------------------------------------------


def test_etc_passwd_is_refused_with_what_to_do(alice, churn) -> None:
    message = refused(register(alice, "file:///etc/passwd"), REFUSED)
    assert "declared stores:" in message
    assert "artifacts/red/" in message  # the team's own folder is listed
    assert "modelyard stores add" in message
    assert AssetVersion.objects.count() == 0


def test_the_secret_key_beside_the_artifact_root_is_refused(alice, churn, settings: Any) -> None:
    home = Path(settings.HOME)
    (home / "secret_key").write_text("not for users")
    settings.ARTIFACT_ROOT = (home / "artifacts").as_uri()
    refused(register(alice, (home / "secret_key").as_uri()), REFUSED)
    # The same through '..' from inside the team's own folder.
    refused(register(alice, f"{settings.ARTIFACT_ROOT}/red/../../secret_key"), "leads to")


def test_proc_self_environ_is_refused(alice, churn) -> None:
    refused(register(alice, "file:///proc/self/environ"), REFUSED)


def test_another_teams_folder_in_the_artifact_root_is_refused(alice, carol, churn) -> None:
    carol.post("/models", {"team": "blue", "name": "secret"})
    uploaded = carol.upload("/models/blue/secret/versions/upload", {"w.bin": b"blue"}, {}).json()
    blue_uri = uploaded["artifacts"][0]["uri"]
    refused(register(alice, blue_uri), "outside team 'red''s folder")


def test_a_dot_dot_path_out_of_a_store_is_refused(alice, churn, lake: Path) -> None:
    (lake.parent / "secret.txt").write_text("s")
    (lake / "ok.bin").write_bytes(b"ok")
    (lake / "sub").mkdir()
    refused(register(alice, f"{lake.as_uri()}/../secret.txt"), REFUSED, "leads to")
    assert register(alice, f"{lake.as_uri()}/sub/../ok.bin").status_code == 201


def test_a_percent_encoded_path_out_of_a_store_is_refused(alice, churn, lake: Path) -> None:
    (lake.parent / "secret.txt").write_text("s")
    refused(register(alice, f"{lake.as_uri()}/%2e%2e/secret.txt"), REFUSED)
    refused(register(alice, f"{lake.as_uri()}/..%2Fsecret.txt"), REFUSED)


def test_a_symbolic_link_leading_out_of_a_store_is_refused(alice, churn, lake: Path) -> None:
    os.symlink("/etc/passwd", lake / "passwd")
    refused(register(alice, (lake / "passwd").as_uri()), "leads to file:///etc/passwd")
    folder = lake / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w")
    os.symlink("/etc/hostname", folder / "hostname")
    refused(register(alice, folder.as_uri()), "leads to file:///etc/hostname")


def test_a_link_planted_after_registration_is_not_followed(alice, churn, lake: Path) -> None:
    folder = lake / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w")
    assert register(alice, folder.as_uri()).status_code == 201
    os.symlink("/etc/passwd", folder / "passwd")
    refused(alice.get("/models/red/churn/versions/1/files"), "leads to file:///etc/passwd")
    refused(alice.get("/models/red/churn/versions/1/files/x/passwd"), "file:///etc/passwd")
    assert body(alice.get("/models/red/churn/versions/1/files/x/weights.bin")) == b"w"


def test_a_store_for_other_teams_is_refused(alice, churn, tmp_path: Path, declare_store) -> None:
    blue_lake = tmp_path / "blue-lake"
    blue_lake.mkdir()
    (blue_lake / "m.bin").write_bytes(b"m")
    declare_store(blue_lake.as_uri(), teams=["blue"])
    refused(register(alice, (blue_lake / "m.bin").as_uri()), REFUSED)


def test_a_stores_root_itself_is_refused(alice, churn, lake: Path) -> None:
    (lake / "m.bin").write_bytes(b"m")
    refused(register(alice, lake.as_uri() + "/"), "is the root of")


def test_inside_a_store_the_team_may_use_is_accepted(alice, churn, lake: Path) -> None:
    (lake / "m.bin").write_bytes(b"m")
    response = register(alice, (lake / "m.bin").as_uri())
    assert response.status_code == 201, response.content
    assert body(alice.get("/models/red/churn/versions/1/files/x")) == b"m"


# --- rows registered before stores were declared ----------------------------------------------


def _old_row(alice: Any, uri: str) -> AssetVersion:
    """A version registered before this change, pointing at `uri`."""
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x"}, {})
    version = AssetVersion.objects.get()
    Artifact.objects.filter(version=version).update(uri=uri, is_prefix=Path(uri[7:]).is_dir())
    return version


def test_old_row_outside_every_store_is_not_read(alice, churn) -> None:
    _old_row(alice, "file:///etc/passwd")
    refused(alice.get("/models/red/churn/versions/1/files/m.bin"), REFUSED)
    refused(alice.get("/models/red/churn/versions/1/files"), REFUSED)


def _scheduled_earlier(version: AssetVersion) -> None:
    """`deleting` already, as a version scheduled before its store's rule changed: the
    worker checks the rule again at the moment it deletes."""
    AssetVersion.objects.filter(pk=version.pk).update(lifecycle_state=LifecycleState.DELETING)


def _refused_now(version: AssetVersion, match: str) -> None:
    """Scheduling refuses at once (409); the worker refuses too, for rows already queued."""
    with pytest.raises(Conflict, match=match):
        services.schedule_deletion("test", version, "bye")
    _scheduled_earlier(version)
    assert services.delete_bytes(version.pk) == 0


def test_old_row_outside_stores_is_never_deleted(
    alice, churn, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.bin").write_bytes(b"keep me")
    version = _old_row(alice, precious.as_uri())
    with django_capture_on_commit_callbacks(execute=True):
        refused_delete = alice.delete("/models/red/churn/versions/1", reason="bye")
    assert refused_delete.status_code == 409
    assert REFUSED in refused_delete.json()["message"]
    assert (precious / "data.bin").read_bytes() == b"keep me"
    _scheduled_earlier(version)
    assert services.delete_bytes(version.pk) == 0  # the worker: refused again
    version.refresh_from_db()
    assert version.lifecycle_state == LifecycleState.DELETING
    assert REFUSED in version.deletion_error
    shown = alice.get("/models/red/churn/versions/1").json()
    assert shown["lifecycle_state"] == "deleting"
    assert shown["deletion_error"] == version.deletion_error
    assert services.delete_bytes(version.pk) == 0  # the sweep's retry: refused again
    assert (precious / "data.bin").exists()
    refusals = AuditEvent.objects.filter(action="model.deletion_refused")
    assert [event.reason for event in refusals] == [version.deletion_error]  # audited once


def test_deletion_never_removes_a_store_root(alice, churn, lake: Path) -> None:
    (lake / "other-teams-data.bin").write_bytes(b"d")
    version = _old_row(alice, lake.as_uri())
    _refused_now(version, "is the root of")
    assert (lake / "other-teams-data.bin").exists()
    version.refresh_from_db()
    assert "is the root of" in version.deletion_error


def test_deletion_never_removes_the_teams_upload_folder(alice, churn, artifact_root) -> None:
    version = _old_row(alice, (artifact_root / "red").as_uri())
    _refused_now(version, "cannot be deleted")
    assert list((artifact_root / "red").rglob("*.bin"))
    assert version.__class__.objects.get().lifecycle_state == LifecycleState.DELETING


def test_deletion_needs_a_store_that_allows_it(alice, churn, tmp_path: Path, declare_store) -> None:
    shared = tmp_path / "shared"
    (shared / "red-model").mkdir(parents=True)
    (shared / "red-model" / "m.bin").write_bytes(b"m")
    declare_store(shared.as_uri(), teams=["red"], delete=False)
    assert register(alice, (shared / "red-model").as_uri()).status_code == 201
    version = AssetVersion.objects.get()
    _refused_now(version, "where modelyard may not delete")
    assert (shared / "red-model" / "m.bin").exists()
    version.refresh_from_db()
    assert "where modelyard may not delete" in version.deletion_error


def test_deletion_inside_a_deletable_store_removes_the_bytes(alice, churn, lake: Path) -> None:
    (lake / "red-model").mkdir()
    (lake / "red-model" / "m.bin").write_bytes(b"m")
    assert register(alice, (lake / "red-model").as_uri()).status_code == 201
    version = AssetVersion.objects.get()
    services.schedule_deletion("test", version, "bye")
    assert services.delete_bytes(version.pk) == 1
    assert not (lake / "red-model").exists()
    assert lake.exists()


def test_a_store_nested_without_deletion_protects_its_bytes(
    alice, churn, lake: Path, declare_store
) -> None:
    protected = lake / "protected"
    (protected / "red").mkdir(parents=True)
    (protected / "red" / "m.bin").write_bytes(b"m")
    declare_store(protected.as_uri(), teams=["blue"], delete=False)
    assert register(alice, (protected / "red").as_uri()).status_code == 201  # via the lake
    version = AssetVersion.objects.get()
    _refused_now(version, "cannot be deleted")
    assert (protected / "red" / "m.bin").exists()


def test_serving_loads_refuse_an_old_row_outside_stores(alice, churn) -> None:
    from modelyard.registry.stores import StoreRefused
    from modelyard.serving.loading import fetch_files

    version = _old_row(alice, "file:///etc/passwd")
    with pytest.raises(StoreRefused, match="not under a declared store"):
        fetch_files(version)


def test_settings_stores_are_used(alice, churn, tmp_path: Path, settings: Any) -> None:
    from modelyard.config import StoreSetting

    folder = tmp_path / "env-lake"
    folder.mkdir()
    (folder / "m.bin").write_bytes(b"m")
    refused(register(alice, (folder / "m.bin").as_uri()), REFUSED)
    settings.DECLARED_STORES = [StoreSetting(folder.as_uri(), ("red",), False)]
    assert register(alice, (folder / "m.bin").as_uri()).status_code == 201


def test_artifact_root_uploads_still_work(alice, churn, artifact_root: Path) -> None:
    response = alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x"}, {})
    assert response.status_code == 201
    assert body(alice.get("/models/red/churn/versions/1/files/m.bin")) == b"x"
    assert settings.ARTIFACT_ROOT in response.json()["artifacts"][0]["uri"]
