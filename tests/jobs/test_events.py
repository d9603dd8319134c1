"""Events are permissioned: a sender is a member of the team it sends for, the registry's
event names are the registry's alone, a command hears its own team's events (another
team's only when it names that team and that team shares), and every event sent or
refused is audited."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.accounts.services import set_membership
from modelyard.audit.models import AuditEvent
from modelyard.jobs import projects
from modelyard.jobs.models import Run
from modelyard.registry import services as registry
from modelyard.registry.models import Kind
from tests.fixtures.models import _bytes
from tests.jobs.conftest import spec

pytestmark = pytest.mark.django_db
DEPLOY = "deploy:\n  on:\n    - model_promoted: {model: churn, alias: production}\n"
LOADED = "refresh:\n  on:\n    - table_loaded: {table: clicks}\n"
FROM_BLUE = "refresh:\n  on:\n    - table_loaded: {from: blue, table: clicks}\n"


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """POST /events as one of the shared base's clients, its handling run at once."""

    def post(api, event: str, team: str | None = None, **payload: Any):
        body: dict[str, Any] = {"event": event, "payload": payload}
        if team is not None:
            body["team"] = team
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/events", body)

    return post


def runs_of(team: str) -> list[str]:
    return list(Run.objects.filter(team__name=team).values_list("command__name", flat=True))


def denials() -> list[tuple[str, str | None, str]]:
    rows = AuditEvent.objects.filter(action="access.denied").order_by("id")
    return [(r.actor_label, r.team.name if r.team else None, r.details["target"]) for r in rows]


def test_a_member_of_red_cannot_send_the_registrys_promotion_of_blues_model(
    alice, teams, send
) -> None:
    """The finding: red's member sent `model_promoted` for blue/churn and ran blue's deploy."""
    projects.apply(teams["carol"], spec(DEPLOY, team="blue"))

    response = send(alice, "model_promoted", model="blue/churn", alias="production")
    as_blue = send(alice, "model_promoted", "blue", model="blue/churn", alias="production")

    assert response.status_code == 403
    assert "sent by the registry itself" in response.json()["message"]
    assert as_blue.status_code == 403
    assert runs_of("blue") == []
    assert denials() == [("alice", "red", "model_promoted"), ("alice", "blue", "model_promoted")]


@pytest.mark.parametrize(
    "event", ["model_promoted", "model_version_created", "dataset_version_created"]
)
def test_the_registrys_event_names_are_reserved_even_for_the_owning_team(
    carol, send, event
) -> None:
    response = send(carol, event, "blue", model="blue/churn")

    assert response.status_code == 403
    assert denials() == [("carol", "blue", event)]


def test_a_sender_must_be_a_member_of_the_team_it_sends_for(alice, carol, mallory, send) -> None:
    assert send(alice, "table_loaded", "blue", table="clicks").status_code == 403
    assert send(mallory, "table_loaded", table="clicks").status_code == 403  # no team at all
    assert send(carol, "table_loaded", "nobody", table="clicks").status_code == 404

    accepted = send(carol, "table_loaded", "blue", table="clicks")
    assert accepted.status_code == 202
    assert accepted.json()["team"] == "blue"
    assert denials() == [("alice", "blue", "table_loaded"), ("mallory", None, "table_loaded")]


def test_a_member_of_several_teams_says_which_one_sends(alice, teams, send) -> None:
    set_membership(None, teams["blue"], teams["alice"], "member")

    response = send(alice, "table_loaded", table="clicks")

    assert response.status_code == 400
    assert "blue, red" in response.json()["message"]
    assert send(alice, "table_loaded", "blue", table="clicks").status_code == 202


def test_every_event_sent_is_audited_with_its_sender_and_team(alice, send) -> None:
    send(alice, "table_loaded", table="clicks")

    sent = AuditEvent.objects.get(action="event.sent")
    assert (sent.actor_label, sent.team.name) == ("alice", "red")
    assert sent.details == {"event": "table_loaded", "payload": {"table": "clicks"}}


def test_a_command_hears_only_its_own_teams_events(alice, carol, teams, send) -> None:
    projects.apply(teams["alice"], spec(LOADED))

    send(carol, "table_loaded", "blue", table="clicks")
    assert runs_of("red") == []
    send(alice, "table_loaded", table="clicks")
    assert runs_of("red") == ["refresh"]


def test_another_teams_events_are_heard_when_named_and_shared(alice, carol, teams, send) -> None:
    projects.apply(teams["alice"], spec(FROM_BLUE))

    send(carol, "table_loaded", "blue", table="clicks")
    assert runs_of("red") == []  # blue does not share its events
    send(alice, "table_loaded", table="clicks")
    assert runs_of("red") == []  # red's own event: the trigger hears blue's only

    projects.apply(teams["carol"], spec("x: {}\n", team="blue", extra="share_events_with: [red]\n"))
    send(carol, "table_loaded", "blue", table="clicks")
    assert runs_of("red") == ["refresh"]


def test_a_shared_registry_event_reaches_the_team_that_names_it(
    teams, django_capture_on_commit_callbacks
) -> None:
    listens = (
        "deploy:\n  on:\n    - model_promoted: {from: blue, model: churn, alias: production}\n"
    )
    projects.apply(teams["alice"], spec(listens))
    projects.apply(teams["alice"], spec(DEPLOY, project="own"))  # red's own churn only
    projects.apply(teams["carol"], spec("x: {}\n", team="blue", extra="share_events_with: [red]\n"))
    model = registry.create_asset(teams["carol"], Kind.MODEL, teams["blue"], "churn")

    with django_capture_on_commit_callbacks(execute=True):
        version = registry.register_version(
            teams["carol"], model, registry.VersionSpec(), [_bytes("m.bin", b"m")]
        )
        registry.set_alias(teams["carol"], model, "production", version)

    (run,) = Run.objects.all()
    assert (run.command.project.name, run.triggers[0]["model"]) == ("churn", "blue/churn")


def test_a_filter_on_another_teams_asset_must_say_from_which_team(alice) -> None:
    listens = "deploy:\n  on:\n    - model_promoted: {model: blue/churn, alias: production}\n"

    response = alice.post("/projects/apply", {"source": spec(listens)})

    assert response.status_code == 400
    assert "add `from: blue`" in response.json()["message"]


def test_the_cli_sends_for_a_team(cli) -> None:
    assert "Sent table_loaded for team red." in cli("events", "send", "table_loaded").stdout
    assert "not a member of team 'blue'" in cli.fails(
        "events", "send", "table_loaded", "--team", "blue"
    )
    assert "sent by the registry itself" in cli.fails(
        "events", "send", "model_promoted", "--payload", '{"model": "blue/churn"}'
    )
