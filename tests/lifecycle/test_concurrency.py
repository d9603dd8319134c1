"""Two scans and two senders at once: every version moves once, every notice is sent once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from modelyard.lifecycle.models import Notice
from modelyard.registry.models import AssetVersion, LifecycleState
from tests.lifecycle.conftest import register

pytestmark = pytest.mark.django_db(transaction=True)


def together(work: Callable[[], Any], times: int = 2) -> list[Any]:
    """Run `work` in threads that start at the same moment; each has its own connection."""
    barrier, results, errors = threading.Barrier(times), [], []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_concurrent_scans_and_sends_do_not_duplicate(
    alice, clock, artifact_root, mailoutbox
) -> None:
    for index in range(30):
        register(alice, f"model-{index}", clock.start)
    results = together(lambda: clock.scan(31))
    assert sum(r.applied["first_notice"] for r in results) == 30
    assert AssetVersion.objects.filter(lifecycle_state=LifecycleState.NOTICED).count() == 30
    assert Notice.objects.count() == 60  # 30 versions x alice and bob
    sends = together(lambda: clock.send(31))
    assert sum(s.emails for s in sends) == 2
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "bob@example.com"]


def _many_stale(team: Any, count: int, used: Any) -> None:
    """`count` model versions of `team`, last used at `used`: rows only, as onboarding makes."""
    from modelyard.registry.models import Asset

    assets = Asset.objects.bulk_create(
        Asset(kind="model", team=team, name=f"bulk-{i}", latest_version=1) for i in range(count)
    )
    AssetVersion.objects.bulk_create(
        AssetVersion(
            asset=a, kind="model", team=team, version=1, created_at=used, last_accessed_at=used
        )
        for a in assets
    )


@pytest.mark.integration
def test_overlapping_scans_mail_each_recipient_once_per_step(red, clock, smtp_settings) -> None:
    """Issue 11 finding 4: two `lifecycle scan` runs (scan, then send) started together on
    a few thousand due versions mailed the recipients twice, each with half the list."""
    _many_stale(red, 4500, clock.start)  # more than two of the scan's batches
    together(lambda: clock.step(31))
    first = smtp_settings.wait_for(2)
    together(lambda: clock.step(51))
    final = smtp_settings.wait_for(4)[2:]
    for step in (first, final):
        assert sorted(m.rcpt_tos[0] for m in step) == ["alice@example.com", "bob@example.com"]
    assert len(smtp_settings.messages) == 4
    assert "4500" in first[0].message.get_body(("plain",)).get_content()
