"""The lifecycle pages as a browser draws them: headless Chromium on a seeded catalog.

Checks what the Django test client cannot: the stylesheet applies (the page looks like the
catalog), nothing runs off the right edge, and the browser reports no errors. Screenshots
go to MODELYARD_SCREENSHOTS (or the test's temp folder) for a person to look at.
Needs Debian's chromium (`apt-get install chromium`) and the `playwright` dev dependency;
skips only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from modelyard.lifecycle.services import hold, pin
from modelyard.registry.models import AssetVersion, LifecycleState
from tests.lifecycle.conftest import register

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = {
    "team-lifecycle": "/teams/red/lifecycle/",
    "version-noticed": "/models/red/churn/1/",
    "version-deleting": "/models/red/fraud/1/",
    "version-deleted": "/datasets/red/customers/1/",
    "team": "/teams/red/",
}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
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
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; the live server's ORM calls are elsewhere.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = Path(os.environ.get("MODELYARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda error: errors.append(str(error)))
        # Every request must succeed but the favicon, which modelyard does not serve.
        page.on(
            "response",
            lambda r: (
                errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "bob")
        page.fill("input[name=password]", "pw")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        for name, path in PAGES.items():
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None, path
            assert response.status == 200, path
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the window"
            header = page.eval_on_selector(
                ".site-header", "e => getComputedStyle(e).backgroundColor"
            )
            assert header == "rgb(20, 26, 38)", f"{path} is not styled like the catalog"
        page.goto(f"{live_server.url}/teams/red/lifecycle/")
        page.click("form[action='/models/red/churn/1/lifecycle/keep/'] button")
        page.wait_for_selector(".message-success")
        page.screenshot(path=str(shots / "team-lifecycle-after-keep.png"), full_page=True)
        assert "Kept red/churn:1" in page.inner_text(".messages")
        browser.close()
    assert errors == []
