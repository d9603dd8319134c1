"""Keep and Delete links: GET shows, POST acts, once; expired and used links say so."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from modelyard.accounts.models import Membership
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


def test_delete_link_deletes(alice_mail, stale, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/" + links(alice_mail, "delete")[0])
    assert response.status_code == 200
    assert state(stale[0]) == LifecycleState.DELETED


def test_a_member_who_left_cannot_delete(alice_mail, stale, teams) -> None:
    Membership.objects.filter(user=teams["alice"]).delete()
    response = Client().post("/" + links(alice_mail, "delete")[0])
    assert response.status_code == 403
    assert b"no longer a member" in response.content
    assert state(stale[0]) == LifecycleState.NOTICED
