"""Each team's lifecycle page: what is due and when, what was deleted, bytes reclaimed."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_team_page_shows_due_and_reclaimed(
    client, teams, stale, clock, django_capture_on_commit_callbacks
) -> None:
    clock.step(31)
    client.force_login(teams["mallory"])  # anyone signed in may look
    page = client.get("/teams/red/lifecycle/").content.decode()
    assert "churn:1" in page
    assert "Noticed" in page
    # Noticed on day 31 of a clock whose today is day 100: the final notice is overdue and
    # goes out at the next scan, so deletion comes 10 days (grace) from today, not on the
    # day 61 the notice planned, which lies in the past.
    assert clock.at(100 + 10).strftime("%Y-%m-%d") in page
    assert clock.at(31 + 30).strftime("%Y-%m-%d") not in page
    clock.step(51)
    with django_capture_on_commit_callbacks(execute=True):
        clock.step(61.5)
    page = client.get("/teams/red/lifecycle/").content.decode()
    assert "Nothing is due for deletion." in page
    assert "200 B" in page


def test_team_page_needs_sign_in(client, teams) -> None:
    response = client.get("/teams/red/lifecycle/")
    assert response.status_code == 302
