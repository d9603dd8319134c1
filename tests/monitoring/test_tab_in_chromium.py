"""The monitoring tab as a browser draws it: headless Chromium on two hours of real
monitoring data (logged traffic, evaluations, alerts) seeded through the services.

Checks what the Django test client cannot: the charts have a size and sit inside the page,
nothing runs off the right edge, the stylesheet applies, the browser reports no error, and
the Acknowledge button works. The screenshot goes to MODELYARD_SCREENSHOTS (or the test's
temp folder) for a person to look at. Skips only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.chromium import CATALOG_HEADER, needs_chromium, signed_in

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


def test_the_monitoring_tab_renders_its_charts_and_acknowledges(
    history: Any, live_server: Any, tmp_path: Path, monkeypatch
) -> None:
    with signed_in(live_server, tmp_path, monkeypatch) as browser:
        page = browser.page
        page.goto(f"{live_server.url}/models/red/churn/")
        page.click("nav.tabs >> text=Monitoring")
        page.wait_for_url("**/models/red/churn/monitoring/")
        page.click("nav.ranges >> text=6h")
        browser.shot("monitoring-tab")

        sizes = page.eval_on_selector_all(
            "svg.chart", "all => all.map(s => [s.clientWidth, s.clientHeight])"
        )
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        header = page.eval_on_selector(".site-header", "e => getComputedStyle(e).backgroundColor")
        page.click("button:has-text('Acknowledge')")
        page.wait_for_selector(".message-success")
        browser.shot("monitoring-tab-acknowledged")
        message = page.inner_text(".messages")

    assert len(sizes) == 6
    assert all(width > 400 and height > 100 for width, height in sizes), sizes
    assert overflow <= 0, f"the tab is {overflow}px wider than the window"
    assert header == CATALOG_HEADER, "the tab is not styled like the catalog"
    assert "is acknowledged" in message
    assert browser.errors == []
