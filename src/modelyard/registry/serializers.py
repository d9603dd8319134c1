"""Turning catalog rows into API bodies, with the queries that keep list pages cheap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import F, OuterRef, Prefetch, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from modelyard.registry import protection
from modelyard.registry.models import Alias, Artifact, Asset, AssetVersion, LineageEdge
from modelyard.registry.signals import NO_OUTLOOK, Outlook, outlooks


def assets_query() -> QuerySet[Asset]:
    return Asset.objects.select_related("team").prefetch_related(
        Prefetch("aliases", queryset=Alias.objects.select_related("version"))
    )


def asset_body(asset: Asset) -> dict[str, Any]:
    return {
        "id": asset.pk,
        "kind": asset.kind,
        "team": asset.team.name,
        "name": asset.name,
        "ref": asset.ref,
        "description": asset.description,
        "tags": asset.tags,
        "created_at": asset.created_at,
        "updated_at": asset.updated_at,
        "latest_version": asset.latest_version,
        "aliases": {alias.name: alias.version.version for alias in asset.aliases.all()},
    }


def versions_query() -> QuerySet[AssetVersion]:
    # A correlated subquery rather than JOIN + GROUP BY: only the rows on the page pay for
    # it, and count() can drop it.
    total = (
        Artifact.objects.filter(version=OuterRef("pk"))
        .values("version")
        .annotate(total=Sum("size_bytes"))
        .values("total")
    )
    return AssetVersion.objects.select_related("asset__team").annotate(
        total_bytes=Coalesce(Subquery(total), Value(0))
    )


# The columns a summary (and the lifecycle's deletion date) reads: a listing loads these
# and its names as annotations, one model instance per row instead of three (version,
# asset, team) and without the signature, example and params it never shows.
SUMMARY_FIELDS = (
    "id",
    "kind",
    "team_id",
    "version",
    "flavor",
    "metrics",
    "tags",
    "created_at",
    "registered_at",
    "last_accessed_at",
    "lifecycle_state",
    "deletion_error",
    "deletion_attempts",
    "next_deletion_attempt_at",
    "kept_at",
    "notice_sent_at",
    "final_notice_sent_at",
    "protected_at",
    "pinned_until",
)


def summary_columns(versions: QuerySet[AssetVersion]) -> QuerySet[AssetVersion]:
    """A page of versions for the API's listings (page_of's `shape`): the summary columns,
    names and size as annotations."""
    total = (
        Artifact.objects.filter(version=OuterRef("pk"))
        .values("version")
        .annotate(total=Sum("size_bytes"))
        .values("total")
    )
    return versions.only(*SUMMARY_FIELDS).annotate(
        team_name=F("asset__team__name"),
        asset_name=F("asset__name"),
        total_bytes=Coalesce(Subquery(total), Value(0)),
    )


def version_summaries(versions: Sequence[AssetVersion]) -> list[dict[str, Any]]:
    """Summaries of a page of versions, asking the lifecycle about all of them at once."""
    found = outlooks(versions, why=False)
    return [version_summary(version, found.get(version.pk, NO_OUTLOOK)) for version in versions]


def version_summary(version: AssetVersion, outlook: Outlook | None = None) -> dict[str, Any]:
    team, name = _names(version)
    if outlook is None:
        outlook = outlooks([version]).get(version.pk, NO_OUTLOOK)
    total = getattr(version, "total_bytes", None)
    return {
        "id": version.pk,
        "kind": version.kind,
        "team": team,
        "name": name,
        "ref": f"{team}/{name}:{version.version}",
        "version": version.version,
        "flavor": version.flavor,
        "metrics": version.metrics,
        "tags": version.tags,
        "created_at": version.created_at,
        "last_accessed_at": version.last_accessed_at,
        "lifecycle_state": version.lifecycle_state,
        "size_bytes": total if total is not None else version.size_bytes,
        "delete_on": outlook.delete_on,
        "deletion_error": version.deletion_error or None,
        "deletion_attempts": version.deletion_attempts,
        "next_deletion_attempt_at": version.next_deletion_attempt,
    }


def _names(version: AssetVersion) -> tuple[str, str]:
    """(team, asset name): from version_list_query's annotations, else from the asset."""
    team = getattr(version, "team_name", None)
    name = getattr(version, "asset_name", None)
    if team is None or name is None:
        return version.asset.team.name, version.asset.name
    return str(team), str(name)


def version_body(version: AssetVersion) -> dict[str, Any]:
    return {
        **version_summary(version),
        "description": version.description,
        "signature": version.signature,
        "input_example": version.input_example,
        "params": version.params,
        "registered_at": version.registered_at,
        "created_by": version.created_by.get_username() if version.created_by else None,
        "lifecycle_changed_at": version.lifecycle_changed_at,
        "deleted_at": version.deleted_at,
        "bytes_reclaimed": version.bytes_reclaimed,
        "deletion_error": version.deletion_error,
        "aliases": list(version.aliases.values_list("name", flat=True)),
        "protected_by": protection.reasons(version) if not version.is_gone else [],
        "artifacts": list(
            version.artifacts.values(
                "id", "name", "uri", "size_bytes", "checksum", "is_prefix", "uploaded"
            )
        ),
        "upstream": [_edge(edge.upstream, edge.relation) for edge in _edges(version, "upstream")],
        "downstream": [
            _edge(edge.downstream, edge.relation) for edge in _edges(version, "downstream")
        ],
    }


def _edges(version: AssetVersion, side: str) -> QuerySet[LineageEdge]:
    other = "downstream" if side == "upstream" else "upstream"
    return LineageEdge.objects.filter(**{other: version}).select_related(f"{side}__asset__team")


def _edge(version: AssetVersion, relation: str) -> dict[str, str]:
    return {"kind": version.kind, "ref": version.ref, "relation": relation}
