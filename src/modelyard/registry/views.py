"""The read-only web catalog. Any signed-in user may read everything: the catalog is how
people find what exists, whichever team owns it.

Views only query and render. Every list is built from a fixed number of queries (joins,
prefetches and correlated subqueries), however many rows a page shows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from modelyard.accounts.models import Team
from modelyard.accounts.permissions import role_in
from modelyard.accounts.services import get_team
from modelyard.audit.models import AuditEvent
from modelyard.lib.errors import NotFound
from modelyard.registry import protection, services
from modelyard.registry.models import Artifact, Asset, AssetVersion, Kind, LifecycleState
from modelyard.registry.serializers import assets_query, versions_query
from modelyard.registry.signals import NO_OUTLOOK, outlooks

PAGE_SIZE = 50
KIND_FILTER_CHOICES = [
    ("", "All kinds"),
    (Kind.MODEL.value, "Models"),
    (Kind.DATASET.value, "Data sets"),
    (Kind.FEATURE_SET.value, "Feature sets"),
]

P = ParamSpec("P")


class CatalogFilters(forms.Form):
    q = forms.CharField(required=False, max_length=200, strip=True)
    kind = forms.ChoiceField(required=False, choices=KIND_FILTER_CHOICES)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="name",
        required=False,
        empty_label="All teams",
    )


def not_found_as_404(view: Callable[P, HttpResponse]) -> Callable[P, HttpResponse]:
    """Look-ups raise NotFound with a message that says what is missing; show it as a 404."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        try:
            return view(*args, **kwargs)
        except NotFound as error:
            raise Http404(error.message) from error

    return wrapper


@require_safe
@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    filters = CatalogFilters(request.GET)
    filters.is_valid()  # a field that fails drops out of cleaned_data and shows its error
    assets = filter_assets(with_usage(assets_query()), filters.cleaned_data)
    page = Paginator(assets.order_by("team__name", "name", "kind"), PAGE_SIZE)
    return render(
        request,
        "registry/catalog.html",
        {
            "filters": filters,
            "page": page.get_page(request.GET.get("page")),
        },
    )


@require_safe
@login_required
@not_found_as_404
def team_page(request: HttpRequest, team: str) -> HttpResponse:
    found = get_team(team)
    return render(
        request,
        "registry/team.html",
        {
            "team": found,
            # "owner" sorts after "member": descending puts owners first.
            "members": found.memberships.select_related("user").order_by("-role", "user__username"),
            "assets": with_usage(assets_query().filter(team=found)).order_by("name", "kind"),
            "totals": team_totals(found),
        },
    )


@require_safe
@login_required
@not_found_as_404
def asset_page(request: HttpRequest, kind: str, team: str, name: str) -> HttpResponse:
    asset = services.get_asset(kind, team, name)
    versions = versions_query().filter(asset=asset).prefetch_related("aliases")
    page = Paginator(versions.order_by("-version"), PAGE_SIZE)
    return render(
        request,
        "registry/asset.html",
        {
            "asset": asset,
            "aliases": asset.aliases.select_related("version__asset__team").order_by("name"),
            "page": page.get_page(request.GET.get("page")),
        },
    )


@require_safe
@login_required
@not_found_as_404
def version_page(
    request: HttpRequest, kind: str, team: str, name: str, number: int
) -> HttpResponse:
    version = services.get_version(services.get_asset(kind, team, name), number)
    artifacts = list(version.artifacts.all())
    now = timezone.now()
    return render(
        request,
        "registry/version.html",
        {
            "asset": version.asset,
            "version": version,
            "outlook": outlooks([version]).get(version.pk, NO_OUTLOOK),
            "can_act": role_in(request.user, version.asset.team) is not None,
            "now": now,
            "tomorrow": now + timedelta(days=1),
            "artifacts": artifacts,
            "total_bytes": sum(artifact.size_bytes for artifact in artifacts),
            "aliases": version.aliases.order_by("name"),
            "protected_by": [] if version.is_gone else protection.reasons(version),
            "upstream": version.upstream_edges.select_related("upstream__asset__team"),
            "downstream": version.downstream_edges.select_related("downstream__asset__team"),
            "events": AuditEvent.objects.filter(version=version),
        },
    )


def with_usage(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    """Annotate when any version was last used and how many bytes live versions keep."""
    return assets.annotate(
        last_used_at=Subquery(_last_used()),
        stored_bytes=Coalesce(Subquery(_stored_bytes()), Value(0)),
    )


def _last_used() -> QuerySet[AssetVersion, Any]:
    versions = AssetVersion.objects.filter(asset=OuterRef("pk"))
    return versions.order_by("-last_accessed_at").values("last_accessed_at")[:1]


def _stored_bytes() -> QuerySet[Artifact, Any]:
    # Deleted versions keep their artifact rows as a record, but no longer their bytes.
    return (
        Artifact.objects.filter(version__asset=OuterRef("pk"))
        .exclude(version__lifecycle_state=LifecycleState.DELETED)
        .values("version__asset")
        .annotate(total=Sum("size_bytes"))
        .values("total")
    )


def filter_assets(assets: QuerySet[Asset], filters: dict[str, Any]) -> QuerySet[Asset]:
    if filters.get("q"):
        assets = assets.filter(
            Q(name__icontains=filters["q"]) | Q(description__icontains=filters["q"])
        )
    if filters.get("kind"):
        assets = assets.filter(kind=filters["kind"])
    if filters.get("team"):
        assets = assets.filter(team=filters["team"])
    return assets


def team_totals(team: Team) -> dict[str, int]:
    live = AssetVersion.objects.filter(asset__team=team).exclude(
        lifecycle_state=LifecycleState.DELETED
    )
    stored = Artifact.objects.filter(version__in=live).aggregate(total=Sum("size_bytes"))
    return {
        "versions": live.aggregate(count=Count("pk"))["count"],
        "bytes": stored["total"] or 0,
    }
