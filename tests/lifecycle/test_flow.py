"""Day 30 first notice, day 50 final notice, day 60 deletion, one email per recipient."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.audit.models import AuditEvent
from modelyard.lifecycle.models import Notice
from modelyard.registry.models import AssetVersion, LifecycleState
from tests.lifecycle.conftest import state

pytestmark = pytest.mark.django_db


def test_nothing_happens_before_thirty_days(stale, clock, mailoutbox) -> None:
    result = clock.step(29)
    assert result.planned == []
    assert mailoutbox == []


def test_first_notice_is_one_email_per_member_listing_all_versions(
    stale, clock, mailoutbox
) -> None:
    clock.step(31)
    assert [state(v) for v in stale] == [LifecycleState.NOTICED] * 2
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "bob@example.com"]
    message = mailoutbox[0]
    assert "2 unused versions (200 B)" in message.subject
    assert "red/churn:1" in message.body
    assert "red/fraud:1" in message.body
    assert "/lifecycle/keep/" in message.body
    html = message.alternatives[0][0]
    assert "Keep</a>" in html
    assert AuditEvent.objects.filter(action="lifecycle.first_notice").count() == 2


def test_rescanning_sends_nothing_twice(stale, clock, mailoutbox) -> None:
    clock.step(31)
    clock.step(31.5)
    clock.step(32)
    assert len(mailoutbox) == 2
    assert Notice.objects.count() == 4


def test_full_cycle_deletes_bytes_after_final_notice_and_grace(
    stale, clock, mailoutbox, artifact_root: Path, django_capture_on_commit_callbacks
) -> None:
    clock.step(31)
    clock.step(45)  # not yet 50 days
    assert state(stale[0]) == LifecycleState.NOTICED
    clock.step(51)
    assert state(stale[0]) == LifecycleState.FINAL_NOTICE
    final = [m for m in mailoutbox if "Final notice" in m.subject]
    assert len(final) == 2
    assert "will be deleted on" in final[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        clock.step(60)  # 60 days unused, but only 9 days since the final notice
    assert state(stale[0]) == LifecycleState.FINAL_NOTICE
    with django_capture_on_commit_callbacks(execute=True):
        result = clock.step(61.5)
    assert result.applied["delete"] == 2
    assert [state(v) for v in stale] == [LifecycleState.DELETED] * 2
    assert [p for p in artifact_root.rglob("*") if p.is_file()] == []
    assert AssetVersion.objects.get(pk=stale[0].pk).bytes_reclaimed == 100


def test_long_unused_version_still_gets_the_whole_warning(stale, clock, mailoutbox) -> None:
    first = clock.step(99)  # 99 days unused when first seen
    assert first.count("first_notice") == 2
    assert clock.step(100).planned == []  # no final notice the next day
    assert clock.step(119).count("final_notice") == 2
    assert clock.step(125).count("delete") == 0  # grace after the final notice
    assert clock.step(129.5).count("delete") == 2


def test_no_deletion_until_the_final_notice_was_sent(stale, clock, settings) -> None:
    clock.step(31)
    settings.EMAIL_BACKEND = "tests.lifecycle.failing_mail.Backend"
    clock.scan(51)
    with pytest.raises(Exception, match="refused"):
        clock.send(51)
    assert clock.scan(75).count("delete") == 0
    assert AssetVersion.objects.get(pk=stale[0].pk).final_notice_sent_at is None
    assert Notice.objects.filter(step="final_notice", sent_at=None, attempts=1).count() == 4
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    clock.send(76)
    assert clock.scan(80).count("delete") == 0  # grace counts from the real sending
    assert clock.scan(86.5).count("delete") == 2


def test_dry_run_changes_nothing(stale, clock, mailoutbox) -> None:
    result = clock.scan(31, dry_run=True)
    assert result.count("first_notice") == 2
    assert not result.applied
    assert [state(v) for v in stale] == [LifecycleState.ACTIVE] * 2
    assert Notice.objects.count() == 0


def test_notices_count_and_list_derived_files(stale, clock, mailoutbox) -> None:
    """An ONNX conversion is deleted with its version: the email says so, in binary units."""
    from modelyard.registry.services import add_derived_artifact

    add_derived_artifact("system:onnx", stale[0], "onnx/model.onnx", b"y" * 2048)

    clock.step(31)

    message = mailoutbox[0]
    assert "2 unused versions (2.2 KiB)" in message.subject  # 100 + 100 + 2048 bytes
    assert "files: model.bin (100 B), onnx/model.onnx (2.0 KiB)" in message.body
    assert "onnx/model.onnx (2.0 KiB)" in message.alternatives[0][0]
