"""One pattern for user and team names, refused with the same clear message everywhere
(issue 10, finding 10: `users create` took '/', '<' and '>')."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from modelyard.accounts import services
from modelyard.accounts.models import Team
from modelyard.lib.errors import InvalidInput

pytestmark = pytest.mark.django_db

BAD = ["a/b", "<b>", "x>y", "Red", "_red", "red\n", "r" * 64, "", "r d"]


@pytest.mark.parametrize("name", BAD)
def test_services_refuse_bad_user_and_team_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="is not a valid user name: use 1-63 lowercase"):
        services.create_user(None, name)
    with pytest.raises(InvalidInput, match="is not a valid team name: use 1-63 lowercase"):
        services.create_team(None, name)
    assert not User.objects.exists()
    assert not Team.objects.exists()


@pytest.mark.parametrize("name", ["a", "red", "data-science", "team_2.eu", "r" * 63])
def test_good_names_pass(name: str) -> None:
    assert services.create_user(None, name).username == name
    assert services.create_team(None, name).name == name


def test_the_api_refuses_a_bad_team_name(teams: Any, settings: Any, mallory: Any) -> None:
    settings.TEAM_CREATION = "anyone"
    response = mallory.post("/teams", {"name": "gr/een"})
    assert response.status_code == 400
    assert "'gr/een' is not a valid team name" in response.json()["message"]


def test_the_admin_refuses_a_bad_user_name(client: Any, db: None) -> None:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    form = {"username": "<evil>", "password1": "a-long-pass-1", "password2": "a-long-pass-1"}
    response = client.post("/admin/auth/user/add/", form)
    assert response.status_code == 200  # the form again, with the error
    assert b"is not a valid user name" in response.content
    assert not User.objects.filter(username="<evil>").exists()
    form["username"] = "eve"
    assert client.post("/admin/auth/user/add/", form).status_code == 302
    assert User.objects.filter(username="eve").exists()


def test_the_admin_refuses_a_bad_team_name_and_keeps_names_fixed(client: Any, db: None) -> None:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    form = {"name": "Bad/Name", "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    response = client.post("/admin/accounts/team/add/", form)
    assert response.status_code == 200
    assert not Team.objects.exists()
    team = services.create_team(None, "red")
    page = client.get(f"/admin/accounts/team/{team.pk}/change/")
    assert b'name="name"' not in page.content  # read-only once created
