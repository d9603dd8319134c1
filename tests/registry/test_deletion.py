"""Deleting a version: owner only, with a reason, bytes removed by the worker, tombstone kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.registry import services
from modelyard.registry.models import AssetVersion, LifecycleState

pytestmark = pytest.mark.django_db


@pytest.fixture
def churn_v1(alice, artifact_root: Path) -> None:
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x" * 500, "n.bin": b"y"}, {})


def test_delete_removes_bytes_and_keeps_tombstone(
    alice, churn_v1, artifact_root: Path, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.delete("/models/red/churn/versions/1", reason="superseded")
    assert response.status_code == 202
    version = AssetVersion.objects.get()
    assert version.lifecycle_state == LifecycleState.DELETED
    assert version.bytes_reclaimed == 501
    assert [p for p in artifact_root.rglob("*") if p.is_file()] == []
    assert alice.get("/models/red/churn/versions/1/files").status_code == 410
    assert alice.get("/audit", action="model.deleted").json()["items"][0]["details"] == {
        "bytes_reclaimed": 501,
        "registered_bytes": 501,
    }


def test_delete_bytes_twice_is_harmless(alice, churn_v1) -> None:
    version = AssetVersion.objects.get()
    services.schedule_deletion("test", version, "twice")
    assert services.delete_bytes(version.pk) == 501
    assert services.delete_bytes(version.pk) == 0
    assert AssetVersion.objects.get().bytes_reclaimed == 501


def test_version_behind_alias_cannot_be_deleted(alice, churn_v1) -> None:
    alice.put("/models/red/churn/aliases/champion", {"version": 1})
    response = alice.delete("/models/red/churn/versions/1", reason="oops")
    assert response.status_code == 409
    assert "champion" in response.json()["message"]


def test_delete_needs_a_reason(alice, churn_v1) -> None:
    response = alice.delete("/models/red/churn/versions/1", reason="")
    assert response.status_code == 400
    assert "reason" in response.json()["message"]


def test_rerun_after_a_crash_between_store_and_database_converges(alice, churn_v1) -> None:
    from modelyard import storage

    version = AssetVersion.objects.get()
    services.schedule_deletion("test", version, "crash test")
    for artifact in version.artifacts.all():  # the store deleted, then the worker died
        storage.get_store(artifact.uri).delete(artifact.uri)
    assert AssetVersion.objects.get().lifecycle_state == LifecycleState.DELETING
    # The re-run finds nothing left: it measures 0 rather than claim bytes it never saw
    # go, and the audit row keeps the registered size beside that figure.
    assert services.delete_bytes(version.pk) == 0
    version.refresh_from_db()
    assert (version.lifecycle_state, version.bytes_reclaimed) == (LifecycleState.DELETED, 0)
    assert alice.get("/audit", action="model.deleted").json()["items"][0]["details"] == {
        "bytes_reclaimed": 0,
        "registered_bytes": 501,
    }


def test_bytes_reclaimed_are_measured_not_registered(alice, churn_v1, artifact_root) -> None:
    version = AssetVersion.objects.get()
    for path in (p for p in artifact_root.rglob("*") if p.is_file()):
        path.write_bytes(path.read_bytes() * 3)  # the files grew after registration
    services.schedule_deletion("test", version, "grown")
    assert services.delete_bytes(version.pk) == 1503
    version.refresh_from_db()
    assert version.bytes_reclaimed == 1503
    assert alice.get("/audit", action="model.deleted").json()["items"][0]["details"] == {
        "bytes_reclaimed": 1503,
        "registered_bytes": 501,
    }


def test_a_failed_run_keeps_what_it_freed_for_the_run_that_finishes(
    alice, churn_v1, monkeypatch
) -> None:
    from modelyard import storage

    version = AssetVersion.objects.get()
    services.schedule_deletion("test", version, "partial")
    store_class = type(storage.get_store(version.artifacts.first().uri))
    real_delete = store_class.delete

    def refused_after_freeing(self, uri: str) -> int:  # e.g. one object of many was locked
        raise storage.DeletionRefused("held", bytes_freed=real_delete(self, uri))

    monkeypatch.setattr(store_class, "delete", refused_after_freeing)
    with pytest.raises(storage.DeletionRefused):
        services.delete_bytes(version.pk)
    first_run = AssetVersion.objects.get().bytes_reclaimed
    assert first_run in (500, 1)  # the first artifact's file, whichever it was
    monkeypatch.setattr(store_class, "delete", real_delete)
    assert services.delete_bytes(version.pk) == 501 - first_run
    assert AssetVersion.objects.get().bytes_reclaimed == 501
