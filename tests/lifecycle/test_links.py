"""Keep and Delete links: GET shows, POST acts, once; expired and used links say so."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.test import Client

from modelyard.accounts.models import Membership
from modelyard.audit.models import ACCESS_DENIED, AuditEvent
from modelyard.lifecycle.links import MAX_AGE
from modelyard.registry.models import LifecycleState
from tests.lifecycle.conftest import state

pytestmark = pytest.mark.django_db


def links(message, action: str) -> list[str]:
    found = re.findall(rf"https?://[^\s]+/lifecycle/{action}/[^\s]+/", message.body)
    return [url.split("://", 1)[1].split("/", 1)[1] for url in found]


@pytest.fixture
def alice_mail(stale, clock, mailoutbox):
    clock.step(31)
    return next(m for m in mailoutbox if m.to == ["alice@example.com"])


def test_get_changes_nothing_post_keeps(alice_mail, stale) -> None:
    client = Client(enforce_csrf_checks=True)
    url = "/" + links(alice_mail, "keep")[0]
    page = client.get(url)
    assert page.status_code == 200
    assert b"Keep red/churn:1" in page.content
    assert state(stale[0]) == LifecycleState.NOTICED
    token = page.cookies["csrftoken"].value
    done = client.post(url, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200
    assert b"is kept" in done.content
    assert state(stale[0]) == LifecycleState.ACTIVE
    assert stale[0].kept_at is not None


def test_post_without_csrf_is_refused(alice_mail, stale) -> None:
    response = Client(enforce_csrf_checks=True).post("/" + links(alice_mail, "keep")[0])
    assert response.status_code == 403
    assert state(stale[0]) == LifecycleState.NOTICED


def test_a_link_works_once(alice_mail, stale) -> None:
    client = Client()
    url = "/" + links(alice_mail, "keep")[0]
    assert client.post(url).status_code == 200
    again = client.get(url)
    assert again.status_code == 410
    assert b"already used" in again.content
    assert b"red/churn:1 is now" in again.content


def test_keep_can_pin_until_a_date(alice_mail, stale) -> None:
    response = Client().post("/" + links(alice_mail, "keep")[0], {"until": "2099-01-31"})
    assert b"pinned until 2099-01-31" in response.content
    stale[0].refresh_from_db()
    assert stale[0].pinned_until.year == 2099


def test_expired_link(alice_mail) -> None:
    with time_machine.travel(MAX_AGE + timedelta(days=1), tick=False):
        response = Client().get("/" + links(alice_mail, "keep")[0])
    assert response.status_code == 410
    assert b"expired" in response.content


def test_tampered_link_is_invalid(alice_mail) -> None:
    url = "/" + links(alice_mail, "keep")[0]
    response = Client().get(url.replace("/keep/", "/delete/"))  # other purpose, other salt
    assert response.status_code == 410
    assert b"not valid" in response.content


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_member_signed_in_deletes_and_is_named(
    alice_mail, stale, teams, django_capture_on_commit_callbacks
) -> None:
    client = signed_in(teams["bob"])  # a member of red, not the email's recipient
    url = "/" + links(alice_mail, "delete")[0]
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 200
    assert state(stale[0]) == LifecycleState.DELETED
    row = AuditEvent.objects.get(version=stale[0], action="model.deletion_scheduled")
    assert row.actor_label == "bob"


def test_an_anonymous_delete_signs_in_then_comes_back(alice_mail, stale) -> None:
    client = Client()
    url = "/" + links(alice_mail, "delete")[0]
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={quote(url)}"
    assert state(stale[0]) == LifecycleState.NOTICED
    login_page = client.get(response["Location"])
    assert f'value="{url}"'.encode() in login_page.content  # the form carries `next` on
    signed = client.post("/login/", {"username": "alice", "password": "pw", "next": url})
    assert signed.status_code == 302
    assert signed["Location"] == url
    page = client.get(url)
    assert page.status_code == 200
    assert b"Delete red/churn:1 now" in page.content


def test_a_signed_in_user_of_another_team_is_refused(alice_mail, stale, teams) -> None:
    client = signed_in(teams["carol"])  # owner of blue
    url = "/" + links(alice_mail, "delete")[0]
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 403
        assert b"not a member of team &#x27;red&#x27;" in response.content
        assert b"signed in as carol" in response.content
    assert state(stale[0]) == LifecycleState.NOTICED
    refused = AuditEvent.objects.filter(action=ACCESS_DENIED, actor_label="carol")
    assert refused.count() == 2
    assert refused.first().team.name == "red"
    assert refused.first().details["attempted"] == "delete red/churn:1 from a lifecycle link"
    keep = client.post("/" + links(alice_mail, "keep")[0])
    assert keep.status_code == 403
    assert state(stale[0]) == LifecycleState.NOTICED


def test_keep_from_the_link_alone_names_the_recipient(alice_mail, stale) -> None:
    assert Client().post("/" + links(alice_mail, "keep")[0]).status_code == 200
    assert state(stale[0]) == LifecycleState.ACTIVE
    row = AuditEvent.objects.filter(version=stale[0]).order_by("-id").first()
    assert row.actor_label == "alice via link"
    assert row.actor is None


def test_keep_signed_in_names_the_user(alice_mail, stale, teams) -> None:
    assert signed_in(teams["bob"]).post("/" + links(alice_mail, "keep")[0]).status_code == 200
    row = AuditEvent.objects.filter(version=stale[0]).order_by("-id").first()
    assert row.actor_label == "bob"


def test_a_member_who_left_cannot_delete(alice_mail, stale, teams) -> None:
    Membership.objects.filter(user=teams["alice"]).delete()
    response = signed_in(teams["alice"]).post("/" + links(alice_mail, "delete")[0])
    assert response.status_code == 403
    assert b"not a member" in response.content
    assert state(stale[0]) == LifecycleState.NOTICED


def test_a_recipient_who_left_cannot_keep_from_the_link(alice_mail, stale, teams) -> None:
    Membership.objects.filter(user=teams["alice"]).delete()
    response = Client().post("/" + links(alice_mail, "keep")[0])
    assert response.status_code == 403
    assert b"no longer a member" in response.content
    assert state(stale[0]) == LifecycleState.NOTICED
    assert AuditEvent.objects.filter(action=ACCESS_DENIED, actor_label="alice via link").exists()
