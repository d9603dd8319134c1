"""Applying the `features:` section, ingesting raw events, and reading online features."""

from __future__ import annotations

import io
import json
import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection, transaction
from django.utils import timezone

from modelyard.accounts.models import Team
from modelyard.audit.services import record
from modelyard.features import offline, online
from modelyard.features.models import SeenEvent, Source, View
from modelyard.features.spec import EVENT_ID, FeaturesSpec, ViewSpec
from modelyard.features.validation import check_rows, from_micros, to_micros
from modelyard.lib.errors import Conflict, InvalidInput, NotFound, Unprocessable
from modelyard.registry import services as registry
from modelyard.registry.models import Asset, Kind

# --- apply ---------------------------------------------------------------------------------


def plan(team: Team, project: str, spec: FeaturesSpec) -> list[str]:
    """The changes applying `spec` makes, as diff lines; Conflict if another project owns
    one of its names."""
    sources = {s.name: s for s in Source.objects.select_related("team").filter(team=team)}
    views = {v.name: v for v in View.objects.select_related("team").filter(team=team)}
    _check_owner(project, spec.sources, sources, "source")
    _check_owner(project, spec.views, views, "view")
    _check_log_columns(spec, sources)
    lines = _diff("source", {n: asdict(s) for n, s in spec.sources.items()}, sources, project)
    new_views = {name: spec.view_definition(view) for name, view in spec.views.items()}
    return lines + _diff("view", new_views, views, project)


def _check_owner(project: str, names: dict[str, Any], rows: dict[str, Any], what: str) -> None:
    for name in names:
        row = rows.get(name)
        if row is not None and row.active and row.project != project:
            raise Conflict(
                f"Feature {what} {name!r} of team {row.team.name} is declared by project "
                f"{row.project!r}; rename it here or remove it there first."
            )


def _check_log_columns(spec: FeaturesSpec, sources: dict[str, Source]) -> None:
    """The raw event log keeps the columns it was written with: once a source has events,
    its schema and event-time column stay (schema changes are not built yet)."""
    for name, source_spec in spec.sources.items():
        row = sources.get(name)
        if row is None:
            continue
        same = row.schema == source_spec.schema and row.time_column == source_spec.event_time
        if not same and offline.has_events(row):
            raise InvalidInput(
                f"Feature source {name!r} already has events, so its schema and event_time "
                "cannot change (its raw event log keeps the columns it was written with). "
                "Declare a new source with the new schema, and point the views at it."
            )


def _diff(what: str, new: dict[str, Any], rows: dict[str, Any], project: str) -> list[str]:
    lines = []
    for name, definition in new.items():
        row = rows.get(name)
        if row is None or not row.active:
            lines.append(f"+ feature {what} {name}")
        elif row.definition != definition:
            lines.append(
                f"~ feature {what} {name}"
                + (" (new feature set version)" if what == "view" else "")
            )
    for name, row in rows.items():
        if row.active and row.project == project and name not in new:
            lines.append(f"- feature {what} {name}")
    return lines


@transaction.atomic
def apply(actor: registry.Actor, team: Team, project: str, spec: FeaturesSpec) -> None:
    """Write sources and views; a new or changed view is a new feature set version, and its
    tiles are rebuilt from the source's raw event log. Called inside the project's apply."""
    for name, source_spec in spec.sources.items():
        Source.objects.update_or_create(
            team=team,
            name=name,
            defaults={"project": project, "definition": asdict(source_spec), "active": True},
        )
    Source.objects.filter(team=team, project=project, active=True).exclude(
        name__in=list(spec.sources)
    ).update(active=False)
    for view_spec in spec.views.values():
        _apply_view(actor, team, project, spec, view_spec)
    View.objects.filter(team=team, project=project, active=True).exclude(
        name__in=list(spec.views)
    ).update(active=False)


def _apply_view(
    actor: registry.Actor, team: Team, project: str, spec: FeaturesSpec, view_spec: ViewSpec
) -> None:
    definition = spec.view_definition(view_spec)
    source = Source.objects.get(team=team, name=view_spec.source)
    view = View.objects.filter(team=team, name=view_spec.name).first()
    if view is not None and view.definition == definition and view.source_id == source.pk:
        if not view.active:
            # Back in the file, unchanged: same version, but events came while it was off.
            view.active, view.project = True, project
            view.save(update_fields=["active", "project", "applied_at"])
            rebuild_tiles(view)
        return
    view = view or View(team=team, name=view_spec.name)
    view.project, view.source, view.definition, view.active = project, source, definition, True
    view.version = _register_version(actor, team, view_spec, definition)
    view.newest_event_at = None
    view.save()
    rebuild_tiles(view)


def _register_version(
    actor: registry.Actor, team: Team, view_spec: ViewSpec, definition: dict[str, Any]
) -> Any:
    asset = Asset.objects.filter(kind=Kind.FEATURE_SET, team=team, name=view_spec.name).first()
    if asset is None:
        asset = registry.create_asset(
            actor, Kind.FEATURE_SET, team, view_spec.name, description=view_spec.description
        )
    payload = json.dumps(definition, indent=2, sort_keys=True).encode()
    version_spec = registry.VersionSpec(
        description=view_spec.description, flavor="modelyard-features", signature=definition
    )
    artifact = registry.ArtifactSource(
        "definition.json", stream=io.BytesIO(payload), size=len(payload)
    )
    return registry.register_version(actor, asset, version_spec, [artifact])


def rebuild_tiles(view: View) -> None:
    """The view's tiles from the whole raw event log (a new or changed definition).

    Under the source's lock, as ingestion is: a batch being ingested is either all in the
    log and tiles already, or waits and is applied to the rebuilt tiles."""
    _lock(view.source)
    online.clear_tiles(view)
    rows = offline.read_log(view.source)
    _apply_events(view, online.events_table(view.source.schema, rows))


def _apply_events(view: View, events: pa.Table) -> None:
    """Add checked events (an Arrow table, times in microseconds) to the view's tiles, and
    note the newest of them."""
    if events.num_rows == 0:
        return
    newest_us = int(pc.max(events.column(view.source.time_column)).as_py())
    newest = from_micros(newest_us)
    if view.newest_event_at is None or newest > view.newest_event_at:
        view.newest_event_at = newest
        view.save(update_fields=["newest_event_at"])
    updates = online.tile_updates(view.aggregation_definition(), events)
    online.store_tiles(view, updates, to_micros(view.newest_event_at))


# --- ingestion -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingested:
    accepted: int
    duplicates: int
    files: list[str]


def get_source(team_name: str, name: str) -> Source:
    source = Source.objects.select_related("team").filter(team__name=team_name, name=name).first()
    if source is None or not source.active:
        raise NotFound(
            f"No feature source {team_name}/{name}; declare it under `features: sources:` "
            "in modelyard.yaml and run `modelyard apply`."
        )
    return source


def ingest(actor: registry.Actor, source: Source, rows: Any) -> Ingested:
    """Check every row, then in one transaction: drop re-sent events, add the rest to the
    tiles of the source's views and to its raw event log. All or nothing."""
    checked = check_rows(rows, source.schema, source.keys)
    _check_lateness(source, checked)
    written: list[str] = []
    try:
        with transaction.atomic():
            _lock(source)
            views = list(View.objects.filter(source=source, active=True))
            fresh = _new_events(source, checked)
            written = offline.append(source, fresh)
            record(
                actor,
                "features.events_ingested",
                team=source.team,
                details={"source": source.name, "accepted": len(fresh), "sent": len(checked)},
            )
            # The online store last: with Redis, its writes are the one step the transaction
            # cannot take back.
            events = online.events_table(source.schema, fresh)
            for view in views:
                _apply_events(view, events)
    except BaseException:
        offline.discard(written)
        raise
    return Ingested(len(fresh), len(checked) - len(fresh), written)


def _lock(source: Source) -> None:
    """One batch of a source at a time: its event ids and its views' tiles are read, merged
    and written back. Held until the caller's transaction ends."""
    Source.objects.select_for_update().filter(pk=source.pk).first()


def _check_lateness(source: Source, rows: list[dict[str, Any]]) -> None:
    oldest = to_micros(timezone.now() - timedelta(seconds=source.lateness_seconds))
    for index, row in enumerate(rows):
        if row[source.time_column] < oldest:
            moment = from_micros(row[source.time_column]).isoformat()
            raise Unprocessable(
                f"Row {index}: field {source.time_column!r}: {moment} is later than source "
                f"{source.name!r} accepts (lateness: {source.lateness_seconds} s). Nothing in "
                "this batch was ingested; drop or resend such events sooner, or raise "
                "`lateness:` in modelyard.yaml.",
                row=index,
                field=source.time_column,
            )


def _new_events(source: Source, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows not seen before (by `event_id`, when the source has that column); their ids
    are remembered. In raw SQL: a batch has thousands of ids, and model objects for each
    were most of the time this took."""
    if EVENT_ID not in source.schema:
        return rows
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(str(row[EVENT_ID]), row)
    table = connection.ops.quote_name(SeenEvent._meta.db_table)
    ids = list(first)
    seen: set[str] = set()
    with connection.cursor() as cursor:
        for chunk in _chunks(ids, 1000):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT event_id FROM {table} WHERE source_id = %s AND event_id IN ({marks})",  # noqa: S608
                [source.pk, *chunk],
            )
            seen.update(event_id for (event_id,) in cursor.fetchall())
        fresh = [event_id for event_id in ids if event_id not in seen]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        for chunk in _chunks(fresh, 1000):
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (source_id, event_id, received_at) VALUES {values}",  # noqa: S608
                [value for event_id in chunk for value in (source.pk, event_id, now)],
            )
    return [first[event_id] for event_id in fresh]


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


# --- online reads --------------------------------------------------------------------------


def get_view(team_name: str, name: str) -> View:
    view = (
        View.objects.select_related("team", "source", "version")
        .filter(team__name=team_name, name=name, active=True)
        .first()
    )
    if view is None:
        raise NotFound(f"No feature view {team_name}/{name}; apply a modelyard.yaml declaring it.")
    return view


def entity_keys(view: View, given: dict[str, Any], *, from_text: bool) -> list[Any]:
    """The view's key values from a query string (`from_text`) or a JSON object."""
    values = []
    schema = view.source.schema
    for column in view.source.keys:
        value = given.get(column)
        if value is None:
            raise Unprocessable(
                f"Entity key {column!r} is missing; view {view.ref} is keyed by "
                f"{', '.join(view.source.keys)}.",
                field=column,
            )
        values.append(_key_value(column, schema[column], value, from_text))
    return values


def _key_value(column: str, kind: str, value: Any, from_text: bool) -> Any:
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "int":
        if from_text and isinstance(value, str) and re.fullmatch(r"-?\d{1,19}", value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise Unprocessable(f"Entity key {column!r}: {value!r} is not a valid {kind}.", field=column)


def view_summary(view: View) -> dict[str, Any]:
    """What the catalog shows of a view, its freshness included."""
    return {
        "view": view.ref,
        "version": view.version.version if view.version else None,
        "source": view.source.name,
        "features": [feature["name"] for feature in view.definition["view"]["features"]],
        "newest_event_at": view.newest_event_at,
        "freshness_seconds": online.freshness_seconds(view),
    }


def online_features(view: View, entities: list[list[Any]]) -> dict[str, Any]:
    """The answer of the online endpoints: values per entity, the version and freshness."""
    values = online.read(view, entities)
    return {
        "view": view.ref,
        "version": view.version.version if view.version else None,
        "freshness_seconds": online.freshness_seconds(view),
        "results": [
            {"entity": dict(zip(view.source.keys, keys, strict=True)), "features": found}
            for keys, found in zip(entities, values, strict=True)
        ],
    }


# --- training sets -------------------------------------------------------------------------


def selections(text: str) -> list[offline.Selection]:
    """`TEAM/VIEW[:FEATURE],…` as the views and features to put in a training set."""
    chosen: dict[int, offline.Selection] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        ref, _, feature = item.partition(":")
        team, slash, name = ref.partition("/")
        if not (team and slash and name):
            raise InvalidInput(f"{item!r} is not TEAM/VIEW or TEAM/VIEW:FEATURE.")
        view = get_view(team, name)
        known = [f["name"] for f in view.definition["view"]["features"]]
        if feature and feature not in known:
            raise NotFound(f"View {view.ref} has no feature {feature!r} ({', '.join(known)}).")
        selection = chosen.setdefault(view.pk, offline.Selection(view, []))
        if feature and feature not in selection.features:
            selection.features.append(feature)
    if not chosen:
        raise InvalidInput("Name at least one view with --features TEAM/VIEW[:FEATURE],….")
    return list(chosen.values())
