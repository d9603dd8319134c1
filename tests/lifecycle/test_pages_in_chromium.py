"""The lifecycle pages as a browser draws them: headless Chromium on a seeded catalog.

Checks what the Django test client cannot: the stylesheet applies (the page looks like the
catalog), nothing runs off the right edge, and the browser reports no errors. Screenshots
go to MODELYARD_SCREENSHOTS (or the test's temp folder) for a person to look at.
Needs Debian's chromium (`apt-get install chromium`) and the `playwright` dev dependency;
skips only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from modelyard.lifecycle.services import hold, pin
from modelyard.registry.models import AssetVersion, LifecycleState
from tests.fixtures.chromium import needs_chromium, signed_in
from tests.lifecycle.conftest import register

PAGES = {
    "team-lifecycle": "/teams/red/lifecycle/",
    "version-noticed": "/models/red/churn/1/",
    "version-deleting": "/models/red/fraud/1/",
    "version-deleted": "/datasets/red/customers/1/",
    "team": "/teams/red/",
}

pytestmark = [
    pytest.mark.integration,
    needs_chromium,
]


@pytest.fixture
def seeded(alice, transactional_db: None, artifact_root: Path, teams: dict[str, Any]) -> None:
    """red: a noticed model, one whose deletion fails, a deleted data set, pinned and held."""
    now = timezone.now()
    long_ago = now - timedelta(days=70)
    for name in ("churn", "fraud", "ltv", "uplift"):
        register(alice, name, long_ago, payload=b"m" * 2048)
    register(alice, "customers", long_ago, kind="datasets", payload=b"d" * 9000)
    versions = {v.asset.name: v for v in AssetVersion.objects.select_related("asset")}
    AssetVersion.objects.filter(pk=versions["churn"].pk).update(
        lifecycle_state=LifecycleState.NOTICED, notice_sent_at=now - timedelta(days=5)
    )
    AssetVersion.objects.filter(pk=versions["ltv"].pk).update(
        lifecycle_state=LifecycleState.FINAL_NOTICE,
        notice_sent_at=now - timedelta(days=25),
        final_notice_sent_at=now - timedelta(days=3),
    )
    AssetVersion.objects.filter(pk=versions["fraud"].pk).update(
        lifecycle_state=LifecycleState.DELETING,
        lifecycle_changed_at=now - timedelta(hours=2),
        deletion_attempts=3,
        next_deletion_attempt_at=now + timedelta(minutes=40),
        deletion_error="Access denied by http://s3.test for bucket 'models': AccessDenied. "
        "Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket policy.",
    )
    AssetVersion.objects.filter(pk=versions["customers"].pk).update(
        lifecycle_state=LifecycleState.DELETED,
        deleted_at=now - timedelta(days=1),
        bytes_reclaimed=9000,
        notice_sent_at=now - timedelta(days=30),
    )
    pin("alice", versions["uplift"], now + timedelta(days=90), "quarterly report")
    hold("staff", versions["uplift"], True, "case 7")


def test_lifecycle_pages_render_styled_and_fit(
    seeded, live_server, teams: dict[str, Any], tmp_path: Path, monkeypatch
) -> None:
    with signed_in(live_server, tmp_path, monkeypatch) as browser:
        for name, path in PAGES.items():
            browser.check(name, path)
        page = browser.page
        page.goto(f"{live_server.url}/teams/red/lifecycle/")
        page.click("form[action='/models/red/churn/1/lifecycle/keep/'] button")
        page.wait_for_selector(".message-success")
        browser.shot("team-lifecycle-after-keep")
        assert "Kept red/churn:1" in page.inner_text(".messages")
    assert browser.errors == []
