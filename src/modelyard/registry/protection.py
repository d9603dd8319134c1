"""When a version may not be deleted, and why: the one rule manual deletion and the lifecycle share.

A version is protected while
- an alias points at it (any alias: `production`, `staging`, `canary`, …),
- it is pinned (until a date) or under legal hold,
- another app depends on it (the promotion gate's evaluation data: apps declare such
  dependencies with `register_dependency`, so the registry imports none of them),
- or anything protected depends on it: the upstream of a protected version through its
  lineage (trained on, evaluated on, derived from), transitively.

The set is computed from the few roots (aliases, pins, holds, declared dependencies) by
walking lineage edges upstream one level per query, so its cost follows the number of
protected versions, not the size of the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from modelyard.registry.models import Alias, AssetVersion, LineageEdge

# Lineage edges read per query while walking; keeps each IN list a reasonable size.
_CHUNK = 5000


@dataclass(frozen=True)
class Dependency:
    """Versions some other record depends on, and how to say so for one of them.

    `version_ids()` returns every version the record type depends on; `reasons(id)` the
    human words for one of them ("evaluation data of demo/cancer-classifier's gate").
    """

    name: str
    version_ids: Callable[[], Iterable[int]]
    reasons: Callable[[int], list[str]]


_dependencies: dict[str, Dependency] = {}


def register_dependency(dependency: Dependency) -> None:
    """Declare versions other records depend on (called from an AppConfig.ready)."""
    _dependencies[dependency.name] = dependency


def _directly_protected(at: datetime) -> Q:
    return Q(legal_hold=True) | Q(pinned_until__gt=at)


def root_ids(at: datetime) -> set[int]:
    """Versions protected by themselves: aliased, pinned, held, or depended on."""
    roots = set(Alias.objects.values_list("version_id", flat=True))
    roots.update(AssetVersion.objects.filter(_directly_protected(at)).values_list("id", flat=True))
    for dependency in _dependencies.values():
        roots.update(dependency.version_ids())
    return roots


def protected_ids(at: datetime | None = None) -> set[int]:
    """Every protected version: the roots and everything upstream of them."""
    return upstream_closure(root_ids(at or timezone.now()))


def _upstream_of(ids: set[int]) -> set[int]:
    ordered, found = sorted(ids), set[int]()
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        found.update(
            LineageEdge.objects.filter(downstream_id__in=chunk).values_list(
                "upstream_id", flat=True
            )
        )
    return found


def upstream_closure(ids: Iterable[int]) -> set[int]:
    """The versions given and everything upstream of them (what they were made from)."""
    closure = set(ids)
    frontier = set(closure)
    while frontier:
        frontier = _upstream_of(frontier) - closure
        closure |= frontier
    return closure


def protected_among(ids: Iterable[int], at: datetime | None = None) -> set[int]:
    """Which of these versions are protected: the same answer as `reasons` being non-empty,
    for a page of versions at once (one query per lineage level, plus the roots among
    them and what lies downstream), so a listing does not walk lineage once per row."""
    at = at or timezone.now()
    origins: dict[int, set[int]] = {pk: {pk} for pk in ids}  # version -> page rows above it
    frontier = set(origins)
    while frontier:
        reached: set[int] = set()
        for upstream, downstream in _edges_below(frontier):
            new = origins[upstream] - origins.setdefault(downstream, set())
            if new:
                origins[downstream] |= new
                reached.add(downstream)
        frontier = reached
    return {row for root in _roots_among(set(origins), at) for row in origins[root]}


def _edges_below(ids: set[int]) -> list[tuple[int, int]]:
    ordered, edges = sorted(ids), list[tuple[int, int]]()
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        edges += LineageEdge.objects.filter(upstream_id__in=chunk).values_list(
            "upstream_id", "downstream_id"
        )
    return edges


def _roots_among(ids: set[int], at: datetime) -> set[int]:
    if not ids:
        return set()
    roots = set(Alias.objects.filter(version_id__in=ids).values_list("version_id", flat=True))
    own = AssetVersion.objects.filter(_directly_protected(at), id__in=ids)
    roots.update(own.values_list("id", flat=True))
    for dependency in _dependencies.values():
        roots.update(ids.intersection(dependency.version_ids()))
    return roots


def reasons(version: AssetVersion, at: datetime | None = None) -> list[str]:
    """Why `version` is protected, in words; empty when it is not.

    Its own reasons first, then each protected version downstream of it, as
    "training data of demo/cancer-classifier:3 (production alias)".
    """
    at = at or timezone.now()
    found = _own_reasons(version, at)
    seen = {version.pk}
    frontier: list[tuple[int, str]] = [(version.pk, "")]
    while frontier:
        next_frontier: list[tuple[int, str]] = []
        for edge in _downstream_edges([pk for pk, _ in frontier]):
            if edge.downstream_id in seen:
                continue
            seen.add(edge.downstream_id)
            via = dict(frontier)[edge.upstream_id]
            role = _ROLE.get(edge.relation, "upstream") if not via else "upstream"
            own = _own_reasons(edge.downstream, at)
            if own:
                found.append(f"{role} of {edge.downstream.ref} ({', '.join(own)}){via}")
            next_frontier.append((edge.downstream_id, f", via {edge.downstream.ref}"))
        frontier = next_frontier
    return found


_ROLE: dict[str, str] = {
    LineageEdge.Relation.TRAINED_ON: "training data",
    LineageEdge.Relation.EVALUATED_ON: "evaluation data",
    LineageEdge.Relation.DERIVED_FROM: "source",
    LineageEdge.Relation.USES_FEATURES: "features",
}


def _downstream_edges(ids: list[int]) -> list[LineageEdge]:
    return list(
        LineageEdge.objects.filter(upstream_id__in=ids)
        .select_related("downstream__asset__team")
        .order_by("downstream_id")
    )


def _own_reasons(version: AssetVersion, at: datetime) -> list[str]:
    own = [f"{name} alias" for name in version.aliases.values_list("name", flat=True)]
    if version.pinned_until and version.pinned_until > at:
        own.append(f"pinned until {version.pinned_until:%Y-%m-%d}")
    if version.legal_hold:
        own.append("legal hold")
    for dependency in _dependencies.values():
        own.extend(dependency.reasons(version.pk))
    return own


def mark_protection_ended(ids: Iterable[int], at: datetime | None = None) -> int:
    """Start the unused clock now for versions (and their upstream) that lost a protector.

    Called when an alias moves away, a pin or hold is lifted: a data set that trained the
    production model was not "unused" while it did, whatever its last read says.
    """
    closure = upstream_closure(ids)
    return touch_protected(closure, at or timezone.now())


def touch_protected(ids: Iterable[int], at: datetime) -> int:
    """Record that these versions are protected at `at` (their unused clock restarts)."""
    ordered, changed = sorted(ids), 0
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        changed += (
            AssetVersion.objects.filter(id__in=chunk)
            .filter(Q(protected_at__isnull=True) | Q(protected_at__lt=at))
            .update(protected_at=at)
        )
    return changed
