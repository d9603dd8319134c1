"""Members first; then the team's contact; then the admins; nobody still means deletion."""

from __future__ import annotations

import pytest

from modelyard.accounts.models import Membership, Team
from modelyard.lifecycle.models import Bounce
from modelyard.registry.models import LifecycleState
from tests.lifecycle.conftest import state

pytestmark = pytest.mark.django_db


def test_inactive_and_bounced_members_are_skipped(stale, clock, mailoutbox, teams) -> None:
    teams["bob"].is_active = False
    teams["bob"].save()
    Bounce.objects.create(email="alice@example.com")
    clock.step(31)
    assert [m.to for m in mailoutbox] == [["red@example.com"]]


def test_admins_when_nobody_in_the_team_is_reachable(stale, clock, mailoutbox, settings) -> None:
    settings.ADMIN_EMAILS = ["ops@example.com"]
    Membership.objects.filter(team__name="red").delete()
    Team.objects.filter(name="red").update(contact_email="")
    clock.step(31)
    assert [m.to for m in mailoutbox] == [["ops@example.com"]]
    assert "/lifecycle/delete/" not in mailoutbox[0].body  # only members may delete


def test_nobody_reachable_still_reaches_deletion(
    stale, clock, mailoutbox, settings, django_capture_on_commit_callbacks
) -> None:
    settings.ADMIN_EMAILS = []
    Membership.objects.filter(team__name="red").delete()
    Team.objects.filter(name="red").update(contact_email="")
    clock.step(31)
    clock.step(51)
    with django_capture_on_commit_callbacks(execute=True):
        clock.step(61.5)
    assert mailoutbox == []
    assert [state(v) for v in stale] == [LifecycleState.DELETED] * 2


def test_permanent_bounce_reroutes_to_the_next_recipient(
    stale, clock, settings, mailoutbox
) -> None:
    Membership.objects.filter(user__username="bob").delete()
    settings.EMAIL_BACKEND = "tests.lifecycle.bouncing_mail.Backend"
    clock.step(31)
    assert Bounce.objects.filter(email="alice@example.com").exists()
    assert [m.to for m in mailoutbox] == [["red@example.com"]]
