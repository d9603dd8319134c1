"""The monitoring tab as a browser draws it: headless Chromium on two hours of real
monitoring data (logged traffic, evaluations, alerts) seeded through the services.

Checks what the Django test client cannot: the charts have a size and sit inside the page,
nothing runs off the right edge, the stylesheet applies, the browser reports no error, and
the Acknowledge button works. The screenshot goes to MODELYARD_SCREENSHOTS (or the test's
temp folder) for a person to look at. Skips only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.lifecycle.test_pages_in_chromium import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


def test_the_monitoring_tab_renders_its_charts_and_acknowledges(
    history: Any, live_server: Any, tmp_path: Path, monkeypatch
) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = Path(os.environ.get("MODELYARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda error: errors.append(str(error)))
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
        page.goto(f"{live_server.url}/models/red/churn/")
        page.click("nav.tabs >> text=Monitoring")
        page.wait_for_url("**/models/red/churn/monitoring/")
        page.click("nav.ranges >> text=6h")
        page.screenshot(path=str(shots / "monitoring-tab.png"), full_page=True)

        sizes = page.eval_on_selector_all(
            "svg.chart", "all => all.map(s => [s.clientWidth, s.clientHeight])"
        )
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        header = page.eval_on_selector(".site-header", "e => getComputedStyle(e).backgroundColor")
        page.click("button:has-text('Acknowledge')")
        page.wait_for_selector(".message-success")
        page.screenshot(path=str(shots / "monitoring-tab-acknowledged.png"))
        message = page.inner_text(".messages")
        browser.close()

    assert len(sizes) == 6
    assert all(width > 400 and height > 100 for width, height in sizes), sizes
    assert overflow <= 0, f"the tab is {overflow}px wider than the window"
    assert header == "rgb(20, 26, 38)", "the tab is not styled like the catalog"
    assert "is acknowledged" in message
    assert errors == []
