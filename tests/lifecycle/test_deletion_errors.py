"""A store that fails to delete: the error, the attempts and the next try are visible, and a
permanent refusal is mailed to the team and the admins at once, once (finding 11.6)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from modelyard import storage
from modelyard.lifecycle.models import Notice, Step
from modelyard.registry import services
from modelyard.registry.models import AssetVersion, LifecycleState
from modelyard.registry.tasks import sweep_pending_deletions

pytestmark = pytest.mark.django_db


class Refused(storage.StorageError):
    """A refusal retrying cannot cure, as the stores mark it (`permanent`)."""

    permanent = True


@pytest.fixture
def deleting(alice, artifact_root: Path) -> AssetVersion:
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x" * 50}, {})
    version = AssetVersion.objects.get()
    services.schedule_deletion("test", version, "unused")
    return version


@pytest.fixture
def store_fails(monkeypatch, deleting: AssetVersion):
    """Make the version's store raise the error a test puts in `failure[0]`."""
    failure: list[Exception] = [storage.StoreUnavailable("http://s3.test", "b", "timed out")]

    def delete(self: Any, uri: str) -> int:
        raise failure[0]

    store = type(storage.get_store(deleting.artifacts.get().uri))
    monkeypatch.setattr(store, "delete", delete)
    return failure


def fail_once(version: AssetVersion) -> AssetVersion:
    with pytest.raises(storage.StorageError):
        services.delete_bytes(version.pk)
    version.refresh_from_db()
    return version


def test_each_failure_is_counted_with_its_error_and_next_attempt(
    deleting, store_fails, alice
) -> None:
    before = timezone.now()
    version = fail_once(deleting)
    assert version.lifecycle_state == LifecycleState.DELETING
    assert version.deletion_attempts == 1
    assert version.next_deletion_attempt_at >= before + timedelta(minutes=10)
    version = fail_once(version)
    assert version.deletion_attempts == 2
    assert version.next_deletion_attempt_at >= before + timedelta(minutes=20)
    body = alice.get("/models/red/churn/versions/1").json()
    assert "http://s3.test is unavailable" in body["deletion_error"]
    assert body["deletion_attempts"] == 2
    assert body["next_deletion_attempt_at"] is not None
    listed = alice.get("/models/red/churn/versions").json()["items"][0]
    assert listed["deletion_attempts"] == 2
    assert "timed out" in listed["deletion_error"]
    events = alice.get("/audit", action="model.deletion_failed").json()["items"]
    assert [e["details"]["attempt"] for e in events] == [2, 1]


def test_the_sweep_tries_again_when_the_next_attempt_is_due(deleting, store_fails) -> None:
    version = fail_once(deleting)
    assert sweep_pending_deletions() == 0  # not before the time the page shows
    store_fails[0] = storage.StoreUnavailable("http://s3.test", "b", "still down")
    with time_machine.travel(timedelta(minutes=11)), pytest.raises(storage.StoreUnavailable):
        sweep_pending_deletions()  # the task runs eagerly here and fails again
    version.refresh_from_db()
    assert version.deletion_attempts == 2
    assert "still down" in version.deletion_error


def test_a_deleted_version_shows_no_next_attempt(deleting, store_fails, monkeypatch) -> None:
    version = fail_once(deleting)
    monkeypatch.undo()  # the store works again
    services.delete_bytes(version.pk)
    version.refresh_from_db()
    assert version.lifecycle_state == LifecycleState.DELETED
    assert version.next_deletion_attempt is None
    assert version.deletion_error == ""


def test_a_passing_failure_mails_nobody(deleting, store_fails) -> None:
    fail_once(deleting)
    assert not Notice.objects.filter(step=Step.DELETION_REFUSED).exists()


def test_pages_show_the_error_attempts_and_next_attempt(deleting, store_fails, client, teams):
    version = fail_once(deleting)
    client.force_login(teams["bob"])
    next_attempt = f"{version.next_deletion_attempt_at:%Y-%m-%d %H:%M}"
    for path in ("/models/red/churn/1/", "/teams/red/lifecycle/"):
        page = client.get(path).content.decode()
        assert "http://s3.test is unavailable" in page, path
        assert next_attempt in page, path
        assert "Failed attempts" in page, path


@pytest.mark.integration
def test_a_permanent_refusal_mails_team_and_admins_at_once_and_once(
    deleting, store_fails, smtp_settings, settings, django_capture_on_commit_callbacks
) -> None:
    settings.ADMIN_EMAILS = ["ops@example.com"]
    store_fails[0] = Refused("Access denied: the table is external and partitioned")
    with django_capture_on_commit_callbacks(execute=True):
        fail_once(deleting)
    messages = smtp_settings.wait_for(3)
    recipients = sorted(address for m in messages for address in m.rcpt_tos)
    assert recipients == ["alice@example.com", "bob@example.com", "ops@example.com"]
    text = messages[0].message.get_body(preferencelist=("plain",)).get_content()
    assert "red/churn:1" in text
    assert "the table is external and partitioned" in text
    assert "Deletion refused" in messages[0].message["Subject"]
    with django_capture_on_commit_callbacks(execute=True):
        fail_once(deleting)  # the sweep's retry is refused again: nobody is mailed twice
    assert len(smtp_settings.messages) == 3
    assert deleting.notices.filter(step=Step.DELETION_REFUSED, sent_at__isnull=False).count() == 3
