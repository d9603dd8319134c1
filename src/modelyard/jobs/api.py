"""Projects, runs and events under /api/v1. Members of a project's team apply it, start,
cancel and re-run its runs; any signed-in user reads them; a member of a team sends
external events for it (jobs/events.py has the rules)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from modelyard.accounts.models import Team
from modelyard.accounts.permissions import AnyUser, require_member, role_in
from modelyard.api.pagination import PageParams, page
from modelyard.jobs import events, projects, services
from modelyard.jobs.models import Command, Project, Run, RunState
from modelyard.jobs.spec import EVENT_NAME
from modelyard.lib.errors import InvalidInput, NotFound

router = Router(tags=["jobs"])


class ApplyIn(Schema):
    source: str = Field(description="The text of modelyard.yaml")
    dry_run: bool = False


class ApplyOut(Schema):
    project: str
    changes: list[str]
    dry_run: bool


class CommandOut(Schema):
    name: str
    entry: str
    run: list[str]
    schedule: str
    timeout_seconds: int
    retries: int
    concurrency: int
    triggers: list[dict[str, Any]]
    active: bool


class ProjectOut(Schema):
    ref: str
    program: str
    timezone: str
    applied_at: datetime
    commands: list[CommandOut]


class RunOut(Schema):
    id: int
    project: str
    command: str
    state: str
    reason: str
    attempt: int
    max_attempts: int
    events: int
    triggers: list[dict[str, Any]]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    progress_done: int
    progress_total: int | None
    eta_seconds: float | None
    exit_code: int | None
    error: str
    outputs: list[str]
    worker: str


class RunDetail(RunOut):
    logs: str


class EventIn(Schema):
    event: str = Field(pattern=EVENT_NAME.pattern)
    team: str | None = Field(
        default=None,
        max_length=128,
        description="The team sending it (you must be a member); default: your only team",
    )
    payload: dict[str, Any] = Field(default_factory=dict)


@router.post("/projects/apply", response=ApplyOut, operation_id="apply_project")
def apply_project(request: HttpRequest, body: ApplyIn) -> dict[str, Any]:
    team = projects.plan(body.source).team
    require_member(request.user, team, f"apply projects of team {team.name}")
    applied = projects.apply(request.user, body.source, dry_run=body.dry_run)
    return {"project": applied.project, "changes": applied.changes, "dry_run": applied.dry_run}


@router.get("/projects", response=list[ProjectOut], operation_id="list_projects")
def list_projects(request: HttpRequest, team: str | None = None) -> list[dict[str, Any]]:
    rows = Project.objects.select_related("team").prefetch_related("commands")
    if team:
        rows = rows.filter(team__name=team)
    return [project_body(p) for p in rows]


@router.post(
    "/projects/{team}/{name}/commands/{command}/runs",
    response={201: RunOut},
    operation_id="start_run",
)
def start_run(request: HttpRequest, team: str, name: str, command: str) -> Status[Any]:
    found = _command(team, name, command)
    require_member(request.user, found.project.team, f"run commands of {found.project.ref}")
    run, _ = services.request_run(found, "manual", {"event": "manual"}, request.user)
    return Status(201, run_body(run))


class RunPage(Schema):
    items: list[RunOut]
    count: int
    limit: int
    offset: int


@router.get("/runs", response=RunPage, operation_id="list_runs")
def list_runs(
    request: HttpRequest,
    params: Query[PageParams],
    project: str | None = None,
    state: RunState | None = None,
) -> dict[str, Any]:
    rows = Run.objects.select_related("command__project__team")
    if project:
        team, _, name = project.partition("/")
        rows = rows.filter(command__project__team__name=team, command__project__name=name)
    if state:
        rows = rows.filter(state=state)
    return page(rows, params, run_body)


@router.get("/runs/{run_id}", response=RunDetail, operation_id="get_run")
def get_run(request: HttpRequest, run_id: int) -> dict[str, Any]:
    run = services.get_run(run_id)
    return {**run_body(run), "logs": run.logs}


@router.post("/runs/{run_id}/cancel", response=RunOut, operation_id="cancel_run")
def cancel_run(request: HttpRequest, run_id: int) -> dict[str, Any]:
    run = services.get_run(run_id)
    require_member(request.user, run.command.project.team, f"cancel runs of {run.command}")
    return run_body(services.cancel(request.user, run))


@router.post("/runs/{run_id}/rerun", response={201: RunOut}, operation_id="rerun")
def rerun(request: HttpRequest, run_id: int) -> Status[Any]:
    run = services.get_run(run_id)
    require_member(request.user, run.command.project.team, f"re-run {run.command}")
    return Status(201, run_body(services.rerun(request.user, run)))


@router.post("/events", response={202: dict[str, str]}, operation_id="send_event")
def send_event(request: HttpRequest, body: EventIn) -> Status[Any]:
    team = _sending_team(request.user, body)
    events.send(request.user, team, body.event, body.payload)
    return Status(202, {"status": "queued", "event": body.event, "team": team.name})


def _sending_team(user: AnyUser, body: EventIn) -> Team:
    """The team named in the body, or the sender's only team; the sender must be a member."""
    if body.team is None:
        teams = list(
            Team.objects.filter(memberships__user__username=user.get_username()).order_by("name")[
                :5
            ]
        )
        if len(teams) == 1:
            return teams[0]
        if teams:
            names = ", ".join(t.name for t in teams)
            raise InvalidInput(
                f"You are a member of several teams ({names}); say which one "
                'sends the event with "team".'
            )
        raise events.refuse(
            user,
            None,
            body.event,
            "You are a member of no team, so you "
            "cannot send events; ask a team's owner to add you.",
        )
    team = Team.objects.filter(name=body.team).first()
    if team is None:
        raise NotFound(f"No team {body.team!r}; list them with `modelyard teams list`.")
    if role_in(user, team) is None:
        raise events.refuse(
            user,
            team,
            body.event,
            f"You are not a member of team '{team.name}',"
            f" so you cannot send its events. Ask an owner of '{team.name}' to "
            "add you, or send it for your own team.",
        )
    return team


def _command(team: str, name: str, command: str) -> Command:
    found = (
        Command.objects.select_related("project__team")
        .filter(project__team__name=team, project__name=name, name=command, active=True)
        .first()
    )
    if found is None:
        raise NotFound(f"No command {command!r} in project {team}/{name}; apply it first.")
    return found


def project_body(project: Project) -> dict[str, Any]:
    commands = [{k: getattr(c, k) for k in CommandOut.model_fields} for c in project.commands.all()]
    return {
        "ref": project.ref,
        "program": project.program,
        "timezone": project.timezone,
        "applied_at": project.applied_at,
        "commands": commands,
    }


def run_body(run: Run) -> dict[str, Any]:
    fields = {k: getattr(run, k) for k in RunOut.model_fields if hasattr(run, k)}
    return {
        **fields,
        "project": run.command.project.ref,
        "command": run.command.name,
        "eta_seconds": eta(run),
    }


def eta(run: Run) -> float | None:
    """Seconds left at the rate so far, when the program reports a total."""
    if run.state != RunState.RUNNING or not run.started_at or not run.progress_total:
        return None
    if run.progress_done <= 0:
        return None
    from django.utils import timezone

    elapsed = (timezone.now() - run.started_at).total_seconds()
    return round(elapsed * (run.progress_total - run.progress_done) / run.progress_done, 1)
