"""Each team's lifecycle page: what is due and when, what was deleted, bytes reclaimed."""

from __future__ import annotations

import pytest

from modelyard.registry.models import LifecycleState
from tests.lifecycle.conftest import state

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


# --- the page as a team uses it (finding 11.9) ----------------------------------------------


def page_of(client, user, path: str = "/teams/red/lifecycle/") -> str:
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_due_rows_link_their_versions_with_columns_and_buttons(client, teams, stale, clock):
    clock.step(31)
    page = page_of(client, teams["bob"])
    assert 'href="/static/registry/catalog.css"' in page  # the catalog's look
    for header in ("Kind", "Size", "Store", "State", "Why", "Deletes on", "Actions"):
        assert f"<th>{header}</th>" in page or f'<th class="num">{header}</th>' in page
    assert '<a class="asset-link" href="/models/red/churn/1/">churn:1</a>' in page
    assert "unused 100 days" in page
    assert '<td class="mono small" title="file://' in page  # the store, its URI on hover
    assert 'action="/models/red/churn/1/lifecycle/keep/"' in page
    assert 'action="/models/red/churn/1/lifecycle/pin/"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "/lifecycle/hold/" not in page  # holds are for staff
    assert "Deleted on" not in page.split("<h2>Deleted</h2>")[0]  # future dates are "deletes on"


def test_outsiders_see_no_buttons_and_staff_see_hold(client, teams, stale, clock) -> None:
    clock.step(31)
    page = page_of(client, teams["mallory"])
    assert "/lifecycle/keep/" not in page
    assert "Members of red can keep or pin." in page
    teams["mallory"].is_staff = True
    teams["mallory"].save()
    assert 'action="/models/red/churn/1/lifecycle/hold/"' in page_of(client, teams["mallory"])


def test_team_page_is_linked_from_the_team_and_version_pages(client, teams, stale) -> None:
    assert 'href="/teams/red/lifecycle/"' in page_of(client, teams["bob"], "/teams/red/")
    assert 'href="/teams/red/lifecycle/"' in page_of(client, teams["bob"], "/models/red/churn/1/")


def test_deleted_rows_head_their_date_deleted_on(
    client, teams, stale, clock, django_capture_on_commit_callbacks
) -> None:
    clock.step(31)
    clock.step(51)
    with django_capture_on_commit_callbacks(execute=True):
        clock.step(61.5)
    page = page_of(client, teams["bob"])
    deleted = page.split("<h2>Deleted</h2>")[1]
    assert "<th>Deleted on</th>" in deleted
    assert '<a href="/models/red/churn/1/">churn:1</a>' in deleted
    assert "Deletes on" not in deleted


def post(client, action: str, **data: str):
    data.setdefault("next", "/teams/red/lifecycle/")
    return client.post(f"/models/red/churn/1/lifecycle/{action}/", data, follow=True)


def test_a_member_keeps_and_pins_from_the_page(client, teams, stale, clock) -> None:
    clock.step(31)
    client.force_login(teams["bob"])
    response = post(client, "keep")
    assert response.redirect_chain[-1][0] == "/teams/red/lifecycle/"
    assert "Kept red/churn:1" in response.content.decode()
    assert state(stale[0]) == LifecycleState.ACTIVE
    response = post(client, "pin", until="2099-05-01")
    assert "red/churn:1 is pinned until 2099-05-01." in response.content.decode()
    stale[0].refresh_from_db()
    assert f"{stale[0].pinned_until:%Y-%m-%d}" == "2099-05-01"
    assert "protected: pinned until 2099-05-01" in response.content.decode()


def test_refusals_are_clear(client, teams, stale, clock) -> None:
    client.force_login(teams["mallory"])
    page = post(client, "keep").content.decode()
    assert "You are not a member of team &#x27;red&#x27;" in page
    stale[0].refresh_from_db()
    assert stale[0].kept_at is None
    client.force_login(teams["bob"])
    assert (
        "Only platform staff can place or release legal holds."
        in post(client, "hold", reason="case 7").content.decode()
    )
    assert "is not a date" in post(client, "pin", until="soon").content.decode()
    assert "lies in the past" in post(client, "pin", until="2001-01-01").content.decode()
    stale[0].refresh_from_db()
    assert (stale[0].legal_hold, stale[0].pinned_until) == (False, None)


def test_staff_hold_needs_a_reason_and_is_listed(client, teams, stale) -> None:
    teams["mallory"].is_staff = True
    teams["mallory"].save()
    client.force_login(teams["mallory"])
    assert "A legal hold needs a reason" in post(client, "hold").content.decode()
    page = post(client, "hold", reason="case 7").content.decode()
    assert "red/churn:1: legal hold placed." in page
    assert "protected: legal hold" in page
    assert 'action="/models/red/churn/1/lifecycle/release/"' in page


def test_a_get_changes_nothing(client, teams, stale) -> None:
    client.force_login(teams["bob"])
    assert client.get("/models/red/churn/1/lifecycle/keep/").status_code == 405


def test_a_foreign_next_is_not_followed(client, teams, stale) -> None:
    client.force_login(teams["bob"])
    response = client.post("/models/red/churn/1/lifecycle/keep/", {"next": "https://evil.example/"})
    assert response.url == "/models/red/churn/1/"
