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
