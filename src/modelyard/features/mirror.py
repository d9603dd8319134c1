"""Environments: another deployment's raw event log mirrored into this one, and checked.

An environment is a separate deployment (its own database, online store and artifact
root); this one is MODELYARD_ENVIRONMENT, the others are named with the artifact root their
raw event log lives under (MODELYARD_FEATURES_ENVIRONMENTS). Mirroring runs on the
deployment that receives: it reads the other's log for each of this deployment's active
sources (same team and source name; the other's root must lie in a store the team may use),
keeps the events of a deterministic sample of entities (and only recent ones with `since`),
replaces this deployment's log of that source with them and rebuilds its views' online
tiles from it. The same entity then gives the same features here as there.

The sample: an entity is in a p % sample when the first 32 bits of the MD5 of its key values
(as text, joined by U+001F) modulo 10,000 are below p x 100. Stable across runs, machines and
versions, and nested: a 10 % sample is part of a 50 % one.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from modelyard import config, storage
from modelyard.features import engine, offline, online, services
from modelyard.features.models import Source, View
from modelyard.features.validation import to_micros
from modelyard.lib.errors import InvalidInput
from modelyard.registry import stores

SAMPLE_BUCKETS = 10_000
# How DuckDB describes the columns offline.append writes, by declared type.
LOG_TYPES = {
    "int": ("BIGINT",),
    "float": ("DOUBLE",),
    "string": ("VARCHAR",),
    "bool": ("BOOLEAN",),
    "timestamp": ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"),
}
DIFF_ENTITIES = 1000


@dataclass(frozen=True)
class Scope:
    """Which events of the other environment: a sample of entities, since a time."""

    sample_percent: float = 100.0
    since_seconds: int | None = None


def environment_root(name: str) -> str:
    """The artifact root of environment `name`, from MODELYARD_FEATURES_ENVIRONMENTS."""
    roots = config.features_environments()
    if name not in roots:
        known = ", ".join(sorted(roots)) or "none"
        raise InvalidInput(
            f"Unknown environment {name!r} (declared: {known}); add `{name}=ARTIFACT-ROOT-URI` "
            "to MODELYARD_FEATURES_ENVIRONMENTS."
        )
    return roots[name]


def check_target(target: str | None) -> None:
    """Mirroring writes this deployment: `--to`, when given, must name it."""
    if target is not None and target != settings.ENVIRONMENT:
        raise InvalidInput(
            f"This deployment is {settings.ENVIRONMENT!r}, not {target!r}: run the mirror on "
            f"the {target} deployment (its MODELYARD_ENVIRONMENT), which it writes."
        )


def sample_condition(keys: list[str], percent: float) -> str:
    """SQL true for the entities in a `percent` % sample (this module's docstring)."""
    if percent >= 100:
        return "true"
    text = ", ".join(f"CAST({engine.quote(k)} AS VARCHAR)" for k in keys)
    bucket = f"CAST('0x' || substr(md5(concat_ws(chr(31), {text})), 1, 8) AS UBIGINT)"
    return f"{bucket} % {SAMPLE_BUCKETS} < {round(percent * SAMPLE_BUCKETS / 100)}"


def parse_percent(text: str) -> float:
    """`10%` or `10` as 10.0; between 0 (exclusive) and 100."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = -1.0
    if not 0 < value <= 100:
        raise InvalidInput(
            f"Sample {text!r} must be a percentage above 0 and at most 100, e.g. 10%."
        )
    return value


def _scoped_events(source: Source, files: list[Path], scope: Scope) -> str:
    """SELECT of the other environment's events of `source` within `scope`, in the
    source's columns."""
    columns = ", ".join(engine.quote(c) for c in source.schema)
    if not files:
        return f"SELECT {columns} FROM (SELECT {engine.empty_columns(source.schema)} WHERE false)"
    paths = ", ".join(engine.quote_path(path) for path in files)
    where = [sample_condition(source.keys, scope.sample_percent)]
    if scope.since_seconds is not None:
        since = to_micros(timezone.now() - timedelta(seconds=scope.since_seconds))
        where.append(f"epoch_us({engine.quote(source.time_column)}) >= {since}")
    return (
        f"SELECT {columns} FROM read_parquet([{paths}], union_by_name = true) "
        f"WHERE {' AND '.join(where)}"
    )


def _other_files(source: Source, root: str, folder: Path) -> list[Path]:
    prefix = offline.log_prefix(source, root)
    stores.check_usable(prefix, source.team)
    return offline.log_files(source, folder, root)


def _check_columns(connection: Any, source: Source, files: list[Path], environment: str) -> None:
    """The other environment's log must have this source's columns and types."""
    if not files:
        return
    paths = ", ".join(engine.quote_path(path) for path in files)
    found = dict(
        connection.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
            f"read_parquet([{paths}], union_by_name = true))"
        ).fetchall()
    )
    for column, kind in source.schema.items():
        if str(found.get(column)) not in LOG_TYPES[kind]:
            raise InvalidInput(
                f"Source {source.team.name}/{source.name} in {environment} has column "
                f"{column!r} as {found.get(column, 'missing')}, here {kind}: apply the same "
                "modelyard.yaml in both environments before mirroring."
            )


@dataclass
class Mirrored:
    sources: dict[str, int] = field(default_factory=dict)  # TEAM/SOURCE: events copied
    views: list[str] = field(default_factory=list)  # views whose online tiles were rebuilt


def active_sources(team_names: list[str] | None) -> list[Source]:
    found = Source.objects.select_related("team").filter(active=True)
    if team_names:
        found = found.filter(team__name__in=team_names)
    return list(found)


def mirror(environment: str, scope: Scope, team_names: list[str] | None = None) -> Mirrored:
    """Replace this deployment's raw event logs by `environment`'s (within `scope`) and
    rebuild the online tiles of every view of those sources."""
    root = environment_root(environment)
    result = Mirrored()
    for source in active_sources(team_names):
        result.sources[str(source)] = _mirror_source(source, root, environment, scope)
        with transaction.atomic():
            for view in View.objects.filter(source=source, active=True).select_related("source"):
                services.rebuild_tiles(view)
                result.views.append(view.ref)
    return result


def _mirror_source(source: Source, root: str, environment: str, scope: Scope) -> int:
    """Copy the source's events within `scope` into this deployment's log; how many."""
    with engine.connect() as connection, tempfile.TemporaryDirectory() as folder:
        files = _other_files(source, root, Path(folder) / "from")
        _check_columns(connection, source, files, environment)
        written = Path(folder) / "to"
        time_column = engine.quote(source.time_column)
        connection.execute(
            f"COPY (SELECT *, strftime({time_column}, '%Y-%m-%d') AS date FROM "
            f"({_scoped_events(source, files, scope)})) TO {engine.quote_path(written)} "
            "(FORMAT parquet, PARTITION_BY (date))"
        )
        count = 0
        for path in written.rglob("*.parquet"):
            count += int(
                connection.execute(
                    f"SELECT count(*) FROM read_parquet({engine.quote_path(path)})"
                ).fetchall()[0][0]
            )
        _replace_log(source, written)
    return count


def _replace_log(source: Source, written: Path) -> None:
    """This deployment's log of `source` becomes the files under `written` (day folders)."""
    prefix = offline.log_prefix(source)
    storage.get_store(prefix).delete(prefix)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    for path in sorted(written.rglob("*.parquet")):
        day = path.parent.name  # date=YYYY-MM-DD
        uri = storage.join_uri(prefix, day, f"part-{stamp}-mirror-{uuid.uuid4().hex[:12]}.parquet")
        with path.open("rb") as stream:
            storage.get_store(uri).put(uri, stream)


# --- diff ---------------------------------------------------------------------------------


@dataclass
class Difference:
    view: str
    entity: list[Any]
    feature: str
    here: Any
    there: Any


@dataclass
class Diffed:
    entities: int = 0
    values: int = 0
    differences: list[Difference] = field(default_factory=list)


def diff(
    environment: str,
    scope: Scope,
    team_names: list[str] | None = None,
    limit: int = DIFF_ENTITIES,
) -> Diffed:
    """Compare this deployment's online features with `environment`'s, for up to `limit`
    entities per view of the sample, now. `environment`'s values are computed by the offline
    engine from its raw event log within `scope` (online equals offline there, as here:
    tests/features/test_online_equals_offline.py), so no access to its database is needed."""
    root = environment_root(environment)
    at_us = to_micros(timezone.now())
    result = Diffed()
    for source in active_sources(team_names):
        for view in View.objects.filter(source=source, active=True).select_related(
            "source", "team"
        ):
            _diff_view(view, root, scope, at_us, limit, result)
    return result


def _diff_view(view: View, root: str, scope: Scope, at_us: int, limit: int, result: Diffed) -> None:
    definition = view.aggregation_definition()
    names = [f.name for f in definition.features]
    keys = [engine.quote(k) for k in definition.keys]
    with engine.connect() as connection, tempfile.TemporaryDirectory() as folder:
        files = _other_files(view.source, root, Path(folder))
        events = _scoped_events(view.source, files, scope)
        entities = connection.execute(
            f"SELECT DISTINCT {', '.join(keys)} FROM ({events}) ORDER BY {', '.join(keys)} "
            f"LIMIT {int(limit)}"
        ).fetchall()
        if not entities:
            return
        scoped = Path(folder) / "scoped.parquet"
        connection.execute(f"COPY ({events}) TO {engine.quote_path(scoped)} (FORMAT parquet)")
        log = engine.LogView(definition, [scoped], view.source.schema, "", names)
        rows = ", ".join(
            f"({', '.join(engine.sql_literal(v) for v in entity)}, make_timestamp({at_us}))"
            for entity in entities
        )
        connection.execute(
            f"CREATE TEMP TABLE __wanted AS SELECT * FROM (VALUES {rows}) "
            f"AS t({', '.join(keys)}, __at)"
        )
        query = engine.training_query(connection, "__wanted", "__at", [log])
        there = connection.execute(query).fetchall()
        columns = [d[0] for d in connection.description or []]
    here = online.read(view, [list(entity) for entity in entities], at_us=at_us)
    for entity, row, values in zip(entities, there, here, strict=True):
        other = dict(zip(columns, row, strict=True))
        result.entities += 1
        for name in names:
            result.values += 1
            if _text(values[name]) != _text(other[name]):
                result.differences.append(
                    Difference(view.ref, list(entity), name, values[name], other[name])
                )


def _text(value: Any) -> str:
    """A value as JSON text: 1e15 and 1000000000000000 are equal numbers, not equal answers."""
    return json.dumps(value)
