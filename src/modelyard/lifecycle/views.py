"""Pages behind the links in notices, and each team's lifecycle page.

A link's GET only shows what would happen (mail scanners open links); the POST from the
confirmation form, CSRF-protected, acts. Delete needs a signed-in active member of the
owning team (an anonymous browser is sent to sign in and back); Keep may act from the link
alone, in its recipient's name (lifecycle.links.acting_user).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_http_methods, require_safe

from modelyard.accounts.services import get_team
from modelyard.lib.errors import Forbidden, ModelyardError
from modelyard.lifecycle import services
from modelyard.lifecycle.links import (
    LinkError,
    acting_user,
    mark_used,
    needs_sign_in,
    open_link,
)
from modelyard.lifecycle.models import Notice
from modelyard.registry import services as registry
from modelyard.registry.models import AssetVersion, LifecycleState


@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, action: str, token: str) -> HttpResponse:
    try:
        notice = open_link(action, token)
    except LinkError as error:
        return _unusable(request, action, error)
    if needs_sign_in(request.user, action):
        return redirect_to_login(request.get_full_path())
    try:
        actor = acting_user(request.user, action, notice)
    except Forbidden as error:
        return _confirm(request, action, notice, error.message)
    gone = _already_gone(notice)
    if request.method == "GET" or gone:
        return _confirm(request, action, notice, gone)
    try:
        mark_used(action, token, notice)
        message = _act(action, notice, actor, request.POST.get("until", ""))
    except LinkError as error:
        return _unusable(request, action, error)
    except ModelyardError as error:
        return _confirm(request, action, notice, error.message)
    return render(request, "lifecycle/done.html", {"notice": notice, "message": message})


def _already_gone(notice: Notice) -> str:
    version = notice.version
    if version.lifecycle_state in (LifecycleState.DELETING, LifecycleState.DELETED):
        return f"{version.ref} is already {version.get_lifecycle_state_display().lower()}."
    return ""


def _act(action: str, notice: Notice, by: User | str, until_text: str) -> str:
    version = notice.version
    if action == "delete":
        registry.schedule_deletion(by, version, "Delete link in a lifecycle notice")
        return f"{version.ref} is being deleted."
    until = parse_date(until_text) if until_text else None
    if until_text and until is None:
        return f"'{until_text}' is not a date; {version.ref} was not changed."
    if until:
        moment = timezone.make_aware(datetime.combine(until, time.min))
        services.pin(by, version, moment, reason="Keep link in a lifecycle notice")
        return f"{version.ref} is pinned until {until:%Y-%m-%d}."
    services.keep(by, version, reason="Keep link in a lifecycle notice")
    return f"{version.ref} is kept: its unused clock starts again today."


def _confirm(request: HttpRequest, action: str, notice: Notice, refusal: str) -> HttpResponse:
    context = {"notice": notice, "version": notice.version, "action": action, "refusal": refusal}
    return render(request, "lifecycle/confirm.html", context, status=403 if refusal else 200)


def _unusable(request: HttpRequest, action: str, error: LinkError) -> HttpResponse:
    context: dict[str, Any] = {"reason": error.reason, "action": action}
    if error.notice is not None:
        context["version"] = AssetVersion.objects.select_related("asset__team").get(
            pk=error.notice.version_id
        )
    return render(request, "lifecycle/unusable.html", context, status=410)


@require_safe
@login_required
def team_page(request: HttpRequest, team: str) -> HttpResponse:
    found = get_team(team)
    versions = AssetVersion.objects.filter(asset__team=found).select_related("asset")
    due = versions.filter(
        lifecycle_state__in=[
            LifecycleState.NOTICED,
            LifecycleState.FINAL_NOTICE,
            LifecycleState.DELETING,
        ]
    ).order_by("last_accessed_at")
    deleted = versions.filter(lifecycle_state=LifecycleState.DELETED).order_by("-deleted_at")
    notices = {
        n.version_id: n for n in Notice.objects.filter(version__in=due).order_by("created_at")
    }
    context = {
        "team": found,
        "due": [(version, notices.get(version.pk)) for version in due],
        "deleted": deleted[:50],
        "reclaimed": deleted.aggregate(total=Sum("bytes_reclaimed"))["total"] or 0,
        "protected": versions.filter(legal_hold=True).count()
        + versions.filter(pinned_until__gt=timezone.now()).count(),
    }
    return render(request, "lifecycle/team.html", context)
