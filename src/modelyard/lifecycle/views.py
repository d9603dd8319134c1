"""Pages behind the links in notices, each team's lifecycle page, and its action buttons.

A link's GET only shows what would happen (mail scanners open links); the POST from the
confirmation form, CSRF-protected, acts. Delete needs a signed-in active member of the
owning team (an anonymous browser is sent to sign in and back); Keep may act from the link
alone, in its recipient's name (lifecycle.links.acting_user).

The Keep, Pin and Hold buttons on the team and version pages post here (CSRF-protected);
members may keep and pin, platform staff place holds; a refusal comes back as a message
on the page the button was on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from modelyard.accounts.permissions import require_member, role_in
from modelyard.accounts.services import get_team
from modelyard.lib.errors import Forbidden, InvalidInput, ModelyardError, NotFound
from modelyard.lifecycle import services
from modelyard.lifecycle.links import (
    LinkError,
    acting_user,
    mark_used,
    needs_sign_in,
    open_link,
)
from modelyard.lifecycle.models import Notice
from modelyard.lifecycle.outlook import outlooks
from modelyard.registry import services as registry
from modelyard.registry.models import AssetVersion, LifecycleState
from modelyard.registry.serializers import versions_query
from modelyard.registry.signals import Outlook


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
    if version.is_gone:
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


TEAM_PAGE_SIZE = 50
DUE = (LifecycleState.NOTICED, LifecycleState.FINAL_NOTICE)
GONE = (LifecycleState.DELETING, LifecycleState.DELETED)


@require_safe
@login_required
def team_page(request: HttpRequest, team: str) -> HttpResponse:
    try:
        found = get_team(team)
    except NotFound as error:
        raise Http404(error.message) from error
    now = timezone.now()
    versions = versions_query().filter(team=found).prefetch_related("artifacts")
    due = Paginator(
        versions.filter(lifecycle_state__in=DUE).order_by("last_accessed_at", "id"),
        TEAM_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    deleting = list(versions.filter(lifecycle_state=LifecycleState.DELETING).order_by("id"))
    protected = list(
        versions.exclude(lifecycle_state__in=GONE)
        .filter(Q(legal_hold=True) | Q(pinned_until__gt=now))
        .order_by("asset__name", "version")
    )
    deleted = versions.filter(lifecycle_state=LifecycleState.DELETED).order_by("-deleted_at")
    context = {
        "team": found,
        "due": _rows(list(due.object_list), now),
        "page": due,
        "deleting": _rows(deleting, now),
        "protected": _rows(protected, now),
        "deleted": _rows(list(deleted[:TEAM_PAGE_SIZE]), now),
        "deleted_count": deleted.count(),
        "reclaimed": deleted.aggregate(total=Sum("bytes_reclaimed"))["total"] or 0,
        "can_act": role_in(request.user, found) is not None,
        "now": now,
        "tomorrow": now + timedelta(days=1),
    }
    return render(request, "lifecycle/team.html", context)


def _rows(versions: list[AssetVersion], now: datetime) -> list[Row]:
    found = outlooks(versions, now)
    return [Row(version, found[version.pk]) for version in versions]


@dataclass(frozen=True)
class Row:
    """A version on the team page, with its outlook and where its bytes are."""

    version: AssetVersion
    outlook: Outlook

    @property
    def stores(self) -> list[str]:
        return sorted({a.uri.split("://", 1)[0] for a in self.version.artifacts.all()})

    @property
    def location(self) -> str:
        artifacts = list(self.version.artifacts.all())
        return artifacts[0].uri if artifacts else ""


ACTIONS = ("keep", "pin", "unpin", "hold", "release")


@require_POST
@login_required
def act(
    request: HttpRequest, kind: str, team: str, name: str, number: int, action: str
) -> HttpResponse:
    """Keep, pin, unpin, hold or release one version from the team or version page."""
    if action not in ACTIONS:
        raise Http404(f"There is no lifecycle action '{action}'; use one of {', '.join(ACTIONS)}.")
    try:
        version = registry.get_version(registry.get_asset(kind, team, name), number)
    except NotFound as error:
        raise Http404(error.message) from error
    try:
        messages.success(request, _act_on(request, version, action))
    except ModelyardError as error:
        messages.error(request, error.message)
    return redirect(_back(request, version))


def _act_on(request: HttpRequest, version: AssetVersion, action: str) -> str:
    user, reason = request.user, request.POST.get("reason", "").strip()
    if action in ("hold", "release"):
        if not getattr(user, "is_staff", False):
            raise Forbidden("Only platform staff can place or release legal holds.")
        held = services.hold(user, version, action == "hold", reason)
        return f"{held.ref}: legal hold {'placed' if held.legal_hold else 'released'}."
    require_member(user, version.asset.team, f"change the lifecycle of {version.ref}")
    if action == "keep":
        kept = services.keep(user, version, reason or "Keep on the web")
        return f"Kept {kept.ref}: its unused clock starts again today."
    until = None if action == "unpin" else _pin_date(request.POST.get("until", ""))
    pinned = services.pin(user, version, until, reason)
    if pinned.pinned_until:
        return f"{pinned.ref} is pinned until {pinned.pinned_until:%Y-%m-%d}."
    return f"{pinned.ref} is no longer pinned."


def _pin_date(text: str) -> datetime:
    day = parse_date(text.strip()) if text.strip() else None
    if day is None:
        raise InvalidInput(
            f"Pin until '{text}' is not a date; pick a day, e.g. 2027-06-30."
            if text.strip()
            else "Pick the day the pin ends, e.g. 2027-06-30."
        )
    return timezone.make_aware(datetime.combine(day, time.min))


def _back(request: HttpRequest, version: AssetVersion) -> str:
    """Where the form came from, if it is one of ours; else the version's page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    asset = version.asset
    return reverse(
        "registry:version", args=[asset.kind, asset.team.name, asset.name, version.version]
    )
