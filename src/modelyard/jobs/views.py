"""The runs pages: a team's or a project's runs with their progress, attempts, log tail and
outputs, and the Cancel and Re-run buttons.

Any signed-in user reads runs (as through the API); the buttons post here, CSRF-protected,
and only members of the run's team may use them: the permission is checked here, on the
server, whatever the page showed, and the services write the audit rows. A refusal comes
back as a message on the page the button was on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from modelyard.accounts.permissions import require_member, teams_of
from modelyard.accounts.services import get_team
from modelyard.jobs import services
from modelyard.jobs.models import Project, Run, RunState
from modelyard.lib.errors import InvalidInput, ModelyardError, NotFound
from modelyard.registry.models import AssetVersion
from modelyard.registry.refs import parse_ref

PAGE_SIZE = 25
LOG_TAIL_LINES = 20
STATE_CHOICES = [("", "All states"), *RunState.choices]
T = TypeVar("T")


@dataclass(frozen=True)
class Output:
    ref: str
    version: AssetVersion | None  # None once the version is gone from the registry


@dataclass(frozen=True)
class RunRow:
    """A run as the page shows it: progress worked out, outputs looked up, rights known."""

    run: Run
    percent: float | None
    rate: float | None  # units of progress per second, since it started
    seconds_left: float | None
    log_tail: str
    outputs: list[Output]
    can_act: bool

    @property
    def cancellable(self) -> bool:
        return self.run.state in (RunState.QUEUED, RunState.RUNNING)


@require_safe
@login_required
def all_runs(request: HttpRequest) -> HttpResponse:
    return _runs_page(request, Run.objects.all(), {"scope": "all"})


@require_safe
@login_required
def team_runs(request: HttpRequest, team: str) -> HttpResponse:
    found = _found(lambda: get_team(team))
    projects = Project.objects.filter(team=found).order_by("name")
    context = {"scope": "team", "team": found, "projects": projects}
    return _runs_page(request, Run.objects.filter(team=found), context)


@require_safe
@login_required
def project_runs(request: HttpRequest, team: str, name: str) -> HttpResponse:
    project = Project.objects.select_related("team").filter(team__name=team, name=name).first()
    if project is None:
        raise Http404(f"No project {team}/{name}; see the team's projects at /teams/{team}/runs/.")
    context = {"scope": "project", "team": project.team, "project": project}
    return _runs_page(request, Run.objects.filter(command__project=project), context)


@require_POST
@login_required
def act(request: HttpRequest, run_id: int, action: str) -> HttpResponse:
    """Cancel or re-run one run, for a member of its team."""
    if action not in ("cancel", "rerun"):
        raise Http404(f"There is no run action '{action}'; use cancel or rerun.")
    run = _found(lambda: services.get_run(run_id))
    try:
        require_member(request.user, run.command.project.team, f"{action} runs of {run.command}")
        if action == "cancel":
            services.cancel(request.user, run)
            messages.success(request, f"Asked run {run.pk} of {run.command} to stop.")
        else:
            again = services.rerun(request.user, run)
            messages.success(request, f"Queued run {again.pk} of {run.command} again.")
    except ModelyardError as error:
        messages.error(request, error.message)
    return redirect(_back(request, run))


def _runs_page(request: HttpRequest, runs: QuerySet[Run], context: dict[str, Any]) -> HttpResponse:
    state = request.GET.get("state", "")
    if state in RunState.values:
        runs = runs.filter(state=state)
    ordered = runs.select_related("command__project__team", "created_by").order_by(
        "-created_at", "-id"
    )
    page = Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
    context |= {
        "page": page,
        "rows": run_rows(request, list(page.object_list)),
        "state": state,
        "state_choices": STATE_CHOICES,
    }
    return render(request, "jobs/runs.html", context)


def run_rows(request: HttpRequest, runs: list[Run]) -> list[RunRow]:
    """Rows for a page of runs in a fixed number of queries, however many runs it shows."""
    versions = _output_versions(runs)
    member_of = teams_of(request.user, {run.team_id for run in runs})
    now = timezone.now()
    rows = []
    for run in runs:
        percent, rate, left = progress(run, now)
        outputs = [Output(ref, versions.get(ref)) for ref in run.outputs]
        rows.append(
            RunRow(run, percent, rate, left, log_tail(run.logs), outputs, run.team_id in member_of)
        )
    return rows


def progress(run: Run, now: datetime) -> tuple[float | None, float | None, float | None]:
    """(percent done, units per second so far, seconds left at that rate), each when known."""
    total, done = run.progress_total, run.progress_done
    percent = min(100.0, 100.0 * done / total) if total else None
    if run.started_at is None or done <= 0:
        return percent, None, None
    end = run.finished_at or now
    elapsed = max((end - run.started_at).total_seconds(), 0.001)
    rate = done / elapsed
    if run.state != RunState.RUNNING or not total:
        return percent, rate, None
    return percent, rate, max(0.0, (total - done) / rate)


def log_tail(logs: str) -> str:
    return "\n".join(logs.rstrip().splitlines()[-LOG_TAIL_LINES:])


def _output_versions(runs: list[Run]) -> dict[str, AssetVersion]:
    """The versions runs registered, by the ref the run recorded, in one query."""
    refs = {ref for run in runs for ref in run.outputs}
    if not refs:
        return {}
    wanted = []
    for ref in refs:
        try:
            wanted.append(parse_ref(ref))
        except InvalidInput:
            continue  # recorded by an older version of the SDK in another form: shown unlinked
    names = {(ref.team, ref.name) for ref in wanted}
    numbers = {ref.version for ref in wanted if ref.version is not None}
    candidates = AssetVersion.objects.select_related("asset__team").filter(
        asset__team__name__in={team for team, _ in names},
        asset__name__in={name for _, name in names},
        version__in=numbers,
    )
    return {version.ref: version for version in candidates if version.ref in refs}


def _back(request: HttpRequest, run: Run) -> str:
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    project = run.command.project
    return reverse("jobs:project", args=[project.team.name, project.name])


def _found(look_up: Callable[[], T]) -> T:
    try:
        return look_up()
    except NotFound as error:
        raise Http404(error.message) from error
