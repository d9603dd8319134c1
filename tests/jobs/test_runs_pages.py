"""The runs pages: what a run shows (state, progress, rate, time left, attempts, log tail,
outputs linked to their versions), who gets the Cancel and Re-run buttons, and that the
server checks, audits and CSRF-protects what the buttons post."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from modelyard.audit.models import AuditEvent
from modelyard.jobs import projects
from modelyard.jobs.models import Command, Run, RunState
from modelyard.jobs.templatetags.runs import rate, seconds
from modelyard.jobs.views import log_tail, progress
from tests.jobs.conftest import spec

pytestmark = pytest.mark.django_db

TEAM_RUNS = "/teams/red/runs/"
PROJECT_RUNS = "/projects/red/churn/runs/"


@pytest.fixture
def command(apply) -> Command:
    return apply(spec("train:\n  entry: ok"))["train"]


@pytest.fixture
def runs(command: Command, alice, artifact_root: Path) -> dict[str, Run]:
    """A running run half way through, a failed one with a log and an output, a queued one."""
    alice.post("/models", {"team": "red", "name": "churn"})
    alice.upload("/models/red/churn/versions/upload", {"model.joblib": b"m"}, {})
    now = timezone.now()
    base = {"command": command, "team_id": command.project.team_id, "reason": "manual"}
    running = Run.objects.create(
        **base,
        state=RunState.RUNNING,
        attempt=1,
        max_attempts=3,
        started_at=now - timedelta(seconds=100),
        progress_done=50,
        progress_total=100,
        logs="\n".join(f"line {n}" for n in range(1, 101)),
    )
    failed = Run.objects.create(
        **base,
        state=RunState.FAILED,
        attempt=2,
        max_attempts=2,
        started_at=now - timedelta(hours=1),
        finished_at=now - timedelta(minutes=50),
        exit_code=1,
        error="ValueError: the input has no rows",
        logs="Traceback (most recent call last):\nValueError: the input has no rows\n",
        outputs=["red/churn:1", "red/gone:7"],
    )
    queued = Run.objects.create(**base, state=RunState.QUEUED, max_attempts=3)
    return {"running": running, "failed": failed, "queued": queued}


def signed_in(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_progress_rate_and_time_left_come_from_the_run() -> None:
    now = timezone.now()
    run = Run(
        state=RunState.RUNNING,
        started_at=now - timedelta(seconds=100),
        progress_done=25,
        progress_total=100,
    )
    assert progress(run, now) == (25.0, 0.25, 300.0)
    run.progress_total = None
    assert progress(run, now) == (None, 0.25, None)
    run.progress_done = 0
    assert progress(run, now) == (None, None, None)
    finished = Run(
        state=RunState.SUCCEEDED,
        started_at=now - timedelta(seconds=20),
        finished_at=now - timedelta(seconds=10),
        progress_done=10,
        progress_total=10,
    )
    assert progress(finished, now) == (100.0, 1.0, None)  # the rate it ran at; nothing left
    assert seconds(95) == "1 min 35 s"
    assert seconds(7300) == "2 h 1 min"
    assert seconds(4) == "4 s"
    assert rate(0.25) == "15/min"
    assert rate(12.34) == "12.3/s"
    assert log_tail("\n".join(str(n) for n in range(100))).splitlines()[0] == "80"


def test_team_page_shows_each_run_with_its_progress_log_and_outputs(runs, teams) -> None:
    body = signed_in(teams["bob"]).get(TEAM_RUNS).content.decode()
    assert body.count('class="run panel"') == 3
    assert 'aria-valuenow="50"' in body
    assert "50 of 100 (50 %)" in body
    assert "Attempt</dt><dd>1 of 3" in body
    assert "2 of 2" in body
    assert "line 100" in body
    assert "line 81" in body
    assert "line 80\n" not in body
    assert "ValueError: the input has no rows" in body
    # The output still in the registry links to its version; the one that is not is shown.
    assert '<a class="chip" href="/models/red/churn/1/">red/churn:1</a>' in body
    assert "red/gone:7" in body
    assert 'href="/projects/red/churn/runs/"' in body


def test_runs_are_linked_from_the_team_page_and_the_nav(runs, teams) -> None:
    client = signed_in(teams["mallory"])
    assert 'href="/teams/red/runs/"' in client.get("/teams/red/").content.decode()
    assert 'href="/runs/"' in client.get("/").content.decode()
    assert client.get("/runs/").content.decode().count('class="run panel"') == 3
    assert client.get(PROJECT_RUNS + "?state=failed").content.decode().count("run panel") == 1


def test_only_members_get_the_buttons(runs, teams) -> None:
    member = signed_in(teams["bob"]).get(PROJECT_RUNS).content.decode()
    assert member.count(">Cancel</button>") == 2  # running and queued, not the failed one
    assert member.count(">Re-run</button>") == 3
    outsider = signed_in(teams["mallory"]).get(PROJECT_RUNS).content.decode()
    assert outsider.count('class="run panel"') == 3
    assert "</button>" in outsider  # the filter's
    assert "Cancel</button>" not in outsider
    assert "Re-run</button>" not in outsider


def test_a_member_cancels_and_reruns_audited(runs, teams) -> None:
    client = signed_in(teams["bob"])
    queued, running = runs["queued"], runs["running"]
    answer = client.post(f"/runs/{queued.pk}/cancel/", {"next": PROJECT_RUNS}, follow=True)
    assert answer.redirect_chain[-1][0] == PROJECT_RUNS
    assert f"Asked run {queued.pk}" in answer.content.decode()
    queued.refresh_from_db()
    assert queued.state == RunState.CANCELLED
    client.post(f"/runs/{running.pk}/cancel/")
    running.refresh_from_db()
    assert running.cancel_requested
    assert running.state == RunState.RUNNING
    answer = client.post(f"/runs/{runs['failed'].pk}/rerun/", follow=True)
    again = Run.objects.get(state=RunState.QUEUED)
    assert f"Queued run {again.pk}" in answer.content.decode()
    assert again.reason == "rerun"
    assert again.created_by == teams["bob"]
    actions = list(AuditEvent.objects.filter(actor_label="bob").values_list("action", flat=True))
    assert actions.count("run.cancel_requested") == 2
    assert "run.queued" in actions


def test_the_server_refuses_outsiders_and_audits_it(runs, teams) -> None:
    queued = runs["queued"]
    answer = signed_in(teams["mallory"]).post(f"/runs/{queued.pk}/cancel/", follow=True)
    assert "You are not a member of team &#x27;red&#x27;" in answer.content.decode()
    queued.refresh_from_db()
    assert queued.state == RunState.QUEUED
    assert not queued.cancel_requested
    assert AuditEvent.objects.filter(actor_label="mallory", action="access.denied").exists()


def test_a_run_that_ended_says_so(runs, teams) -> None:
    answer = signed_in(teams["bob"]).post(f"/runs/{runs['failed'].pk}/cancel/", follow=True)
    assert "already ended (failed)" in answer.content.decode()


def test_buttons_need_a_csrf_token_and_a_post(runs, teams) -> None:
    strict = signed_in(teams["bob"], enforce_csrf_checks=True)
    assert strict.post(f"/runs/{runs['queued'].pk}/cancel/").status_code == 403
    assert strict.get(f"/runs/{runs['queued'].pk}/cancel/").status_code == 405
    runs["queued"].refresh_from_db()
    assert runs["queued"].state == RunState.QUEUED
    page = strict.get(PROJECT_RUNS).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 5  # every button's form, and sign-out


def test_unknown_pages_are_404(runs, teams) -> None:
    client = signed_in(teams["bob"])
    assert client.get("/projects/red/nope/runs/").status_code == 404
    assert client.get("/teams/nope/runs/").status_code == 404
    assert client.post("/runs/999999/cancel/").status_code == 404
    assert client.post(f"/runs/{runs['queued'].pk}/explode/").status_code == 404


def test_anonymous_is_sent_to_sign_in(runs, client: Client) -> None:
    answer = client.get(TEAM_RUNS)
    assert answer.status_code == 302
    assert "/login/" in answer["Location"]


def test_the_buttons_follow_membership_across_teams_in_one_query(runs, teams) -> None:
    """On the page of every team's runs, blue's owner gets no buttons on red's runs."""
    carol = signed_in(teams["carol"]).get("/runs/").content.decode()
    assert carol.count('class="run panel"') == 3
    assert "Re-run</button>" not in carol
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    assert signed_in(root).get("/runs/").content.decode().count("Re-run</button>") == 3


def test_a_page_of_runs_takes_a_fixed_number_of_queries(
    runs, command: Command, teams, django_assert_max_num_queries
) -> None:
    projects.apply(teams["carol"], spec("fit:\n  entry: ok", project="fraud", team="blue"))
    blue = Command.objects.get(name="fit")
    for one in (command, blue):
        base = {"command": one, "team_id": one.project.team_id, "reason": "cron"}
        Run.objects.bulk_create(
            Run(**base, state=RunState.SUCCEEDED, outputs=["red/churn:1"]) for _ in range(12)
        )
    client = signed_in(teams["bob"])
    for page in (TEAM_RUNS, "/runs/"):
        with django_assert_max_num_queries(12):
            assert client.get(page).status_code == 200
