"""Who may create teams: staff by default, anyone with MODELYARD_TEAM_CREATION=anyone."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from modelyard.accounts.models import Team
from modelyard.accounts.tokens import create_token
from tests.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(teams: Any) -> Api:
    return Api(create_token(User.objects.create_user("sam", is_staff=True), "t")[1])


def test_a_member_cannot_create_a_team_by_default(mallory: Api) -> None:
    response = mallory.post("/teams", {"name": "green"})
    assert response.status_code == 403
    assert "Only staff can create teams" in response.json()["message"]
    assert "MODELYARD_TEAM_CREATION" in response.json()["message"]
    assert not Team.objects.filter(name="green").exists()


def test_staff_create_teams(staff: Api) -> None:
    response = staff.post("/teams", {"name": "green"})
    assert response.status_code == 201
    assert response.json()["members"][0]["username"] == "sam"


def test_anyone_may_when_the_setting_says_so(mallory: Api, settings: Any) -> None:
    settings.TEAM_CREATION = "anyone"
    assert mallory.post("/teams", {"name": "green"}).status_code == 201


def test_anonymous_never_creates_a_team(anonymous: Api, settings: Any) -> None:
    settings.TEAM_CREATION = "anyone"
    assert anonymous.post("/teams", {"name": "green"}).status_code in (401, 403)
    assert not Team.objects.filter(name="green").exists()


def test_the_setting_is_checked_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelyard import config

    monkeypatch.setenv("MODELYARD_TEAM_CREATION", "everyone")
    with pytest.raises(config.ConfigError, match="MODELYARD_TEAM_CREATION"):
        config.env_choice("MODELYARD_TEAM_CREATION", "staff", config.TEAM_CREATION)
