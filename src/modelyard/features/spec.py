"""The `features:` section of modelyard.yaml: entities, sources and feature views.

    features:
      entities:
        user: [user_id]                 # one or more key columns
      sources:
        clicks:
          entity: user
          event_time: ts
          lateness: 1h                  # events up to 1h old are accepted (default 1h)
          schema: {event_id: string, user_id: int, amount: float, page: string, ts: timestamp}
      views:
        user_activity:
          source: clicks
          filter: amount > 0            # optional: column op literal
          features:
            purchases_7d: {agg: count, window: 7d}
            spend_7d: {agg: sum, column: amount, window: 7d}
            pages: {agg: distinct_count, column: page}      # no window: lifetime
            spend_per_purchase_7d: {ratio: [spend_7d, purchases_7d]}

Every problem is reported at once, each as "line N: what is wrong, and what to write", like
the rest of the file (jobs/spec.py).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from modelyard.features.aggregations import AGGREGATIONS, COMPARISONS, RESOLUTION
from modelyard.lib.yaml_nodes import line as _line
from modelyard.lib.yaml_nodes import mapping as _mapping
from modelyard.lib.yaml_nodes import scalar as _scalar

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
TYPES = ("int", "float", "string", "bool", "timestamp")
KEY_TYPES = ("int", "string")
NUMERIC = ("int", "float")
EVENT_ID = "event_id"  # a source with this column is de-duplicated on it
FILTER = re.compile(r"^\s*([A-Za-z_]\w*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
SECTION_KEYS = {"entities", "sources", "views"}
SOURCE_KEYS = {"entity", "event_time", "lateness", "schema"}
VIEW_KEYS = {"source", "filter", "features", "description"}
FEATURE_KEYS = {"agg", "column", "window", "ratio"}
DEFAULT_LATENESS = 3600
MAX_KEYS = 4


@dataclass(frozen=True)
class SourceSpec:
    name: str
    entity: str
    keys: list[str]
    event_time: str
    lateness_seconds: int
    schema: dict[str, str]


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    agg: str = ""
    column: str = ""
    window_seconds: int | None = None
    ratio: list[str] | None = None


@dataclass(frozen=True)
class ViewSpec:
    name: str
    source: str
    features: list[FeatureSpec]
    filter: list[Any] | None = None  # [column, op, literal]
    description: str = ""


@dataclass(frozen=True)
class FeaturesSpec:
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    views: dict[str, ViewSpec] = field(default_factory=dict)

    def view_definition(self, view: ViewSpec) -> dict[str, Any]:
        """What a feature set version is: the view with its source, as JSON."""
        return {"source": asdict(self.sources[view.source]), "view": asdict(view)}


def parse(text: str) -> tuple[FeaturesSpec, list[str]]:
    """The `features:` section (empty if none) and the problems found in it.

    YAML that does not parse is jobs/spec.py's to report; here it is an empty section.
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return FeaturesSpec(), []
    if not isinstance(root, MappingNode):
        return FeaturesSpec(), []
    node = next((v for k, v in root.value if k.value == "features"), None)
    problems: list[str] = []
    spec = _section(node, problems) if node is not None else FeaturesSpec()
    return spec, problems


def parse_duration(text: str) -> int | None:
    """Seconds in `7d`, `1h30m`, `90s`; None if it is not such a duration."""
    match = DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _unknown(keys: dict[str, Node], allowed: set[str], where: str, problems: list[str]) -> None:
    for key, value in keys.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            problems.append(f"{_line(value)}: unknown key {key!r} in {where}; use {known}.")


def _named(keys: dict[str, Node], what: str, problems: list[str]) -> dict[str, Node]:
    for name, value in keys.items():
        if not NAME.match(name):
            problems.append(
                f"{_line(value)}: {what} name {name!r} must be lower case letters, digits "
                "and _, starting with a letter."
            )
    return {name: value for name, value in keys.items() if NAME.match(name)}


def _section(node: Node, problems: list[str]) -> FeaturesSpec:
    keys = _mapping(node, "features", problems)
    _unknown(keys, SECTION_KEYS, "features", problems)
    entities = _entities(keys.get("entities"), problems)
    sources: dict[str, SourceSpec] = {}
    if "sources" in keys:
        for name, value in _named(
            _mapping(keys["sources"], "sources", problems), "source", problems
        ).items():
            if (source := _source(name, value, entities, problems)) is not None:
                sources[name] = source
    views: dict[str, ViewSpec] = {}
    declared = set(_mapping(keys["sources"], "sources", [])) if "sources" in keys else set()
    if "views" in keys:
        for name, value in _named(
            _mapping(keys["views"], "views", problems), "view", problems
        ).items():
            if (view := _view(name, value, sources, declared, problems)) is not None:
                views[name] = view
    return FeaturesSpec(sources, views)


def _entities(node: Node | None, problems: list[str]) -> dict[str, list[str]]:
    if node is None:
        return {}
    entities = {}
    for name, value in _named(_mapping(node, "entities", problems), "entity", problems).items():
        items = value.value if isinstance(value, SequenceNode) else [value]
        columns = [_scalar(item) for item in items]
        if not 0 < len(columns) <= MAX_KEYS or not all(COLUMN.match(c) for c in columns):
            problems.append(
                f"{_line(value)}: entity {name!r} must list 1 to {MAX_KEYS} key columns, e.g. "
                "`user: [user_id]` or `user_books: [user_id, category]`."
            )
            continue
        entities[name] = columns
    return entities


def _source(
    name: str, node: Node, entities: dict[str, list[str]], problems: list[str]
) -> SourceSpec | None:
    keys = _mapping(node, f"source {name!r}", problems)
    _unknown(keys, SOURCE_KEYS, f"source {name!r}", problems)
    before = len(problems)
    for required in ("entity", "event_time", "schema"):
        if required not in keys and keys:
            problems.append(f"{_line(node)}: source {name!r} needs `{required}:`.")
    schema = _schema(name, keys.get("schema"), problems)
    entity = _scalar(keys.get("entity"))
    if "entity" in keys and entity not in entities:
        known = ", ".join(sorted(entities)) or "none declared under `entities:`"
        problems.append(f"{_line(keys['entity'])}: unknown entity {entity!r} ({known}).")
    key_columns = entities.get(entity, [])
    for column in key_columns:
        if schema and schema.get(column) not in KEY_TYPES:
            problems.append(
                f"{_line(keys['schema'])}: source {name!r} needs key column {column!r} of entity "
                f"{entity!r} in its schema, as int or string."
            )
    time_column = _scalar(keys.get("event_time"))
    if "event_time" in keys and schema and schema.get(time_column) != "timestamp":
        problems.append(
            f"{_line(keys['event_time'])}: event_time {time_column!r} must be a column of "
            "the schema with type timestamp."
        )
    if schema.get(EVENT_ID, "string") not in KEY_TYPES:
        problems.append(f"{_line(node)}: column {EVENT_ID} must be a string or an int.")
    lateness = _lateness(keys.get("lateness"), problems)
    if len(problems) > before or not keys:
        return None
    return SourceSpec(name, entity, key_columns, time_column, lateness, schema)


def _schema(source: str, node: Node | None, problems: list[str]) -> dict[str, str]:
    if node is None:
        return {}
    schema = {}
    for column, value in _mapping(node, f"the schema of source {source!r}", problems).items():
        kind = _scalar(value)
        if not COLUMN.match(column) or kind not in TYPES:
            problems.append(
                f"{_line(value)}: column {column!r}: {kind!r} is not a type; use one of "
                f"{', '.join(TYPES)}."
            )
            continue
        schema[column] = kind
    return schema


def _lateness(node: Node | None, problems: list[str]) -> int:
    if node is None:
        return DEFAULT_LATENESS
    seconds = parse_duration(_scalar(node))
    if seconds is None:
        problems.append(f"{_line(node)}: lateness {_scalar(node)!r} must be like 1h, 30m or 2d.")
        return DEFAULT_LATENESS
    return seconds


def _view(
    name: str, node: Node, sources: dict[str, SourceSpec], declared: set[str], problems: list[str]
) -> ViewSpec | None:
    keys = _mapping(node, f"view {name!r}", problems)
    _unknown(keys, VIEW_KEYS, f"view {name!r}", problems)
    source = sources.get(_scalar(keys.get("source")))
    if source is None and _scalar(keys.get("source")) in declared:
        return None  # the source's own problems are reported
    if source is None:
        where = _line(keys.get("source", node))
        known = ", ".join(sorted(sources)) or "none valid"
        problems.append(f"{where}: view {name!r} needs `source:` naming a source ({known}).")
        return None
    before = len(problems)
    row_filter = _filter(keys.get("filter"), source, problems)
    features = _features(name, keys.get("features"), source, problems)
    if len(problems) > before:
        return None
    return ViewSpec(name, source.name, features, row_filter, _scalar(keys.get("description")))


def _filter(node: Node | None, source: SourceSpec, problems: list[str]) -> list[Any] | None:
    if node is None:
        return None
    match = FILTER.match(_scalar(node))
    kind = source.schema.get(match.group(1), "") if match else ""
    literal = _literal(match.group(3), kind) if match else None
    if match is None or literal is None:
        problems.append(
            f"{_line(node)}: filter {_scalar(node)!r} must be `column op value` on a column of "
            f"source {source.name!r} with a value of its type, op one of "
            f"{' '.join(COMPARISONS)}; e.g. `amount > 0` or `page == 'checkout'`."
        )
        return None
    return [match.group(1), match.group(2), literal]


def _literal(text: str, kind: str) -> Any:
    """The filter's value as the column's type, or None if it is not one."""
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""
    try:
        if kind == "string" and quoted:
            return text[1:-1]
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        return None
    if kind == "bool" and text in ("true", "false"):
        return text == "true"
    return None


def _features(
    view: str, node: Node | None, source: SourceSpec, problems: list[str]
) -> list[FeatureSpec]:
    if node is None:
        problems.append(f"view {view!r} needs `features:`.")
        return []
    found = _named(_mapping(node, f"the features of view {view!r}", problems), "feature", problems)
    features = [
        f for name, value in found.items() if (f := _feature(name, value, source, problems))
    ]
    names = {feature.name for feature in features if feature.ratio is None}
    for feature in features:
        if feature.ratio is not None and not set(feature.ratio) <= names:
            problems.append(
                f"{_line(found[feature.name])}: ratio {feature.name!r} must name two aggregate "
                f"features of view {view!r} ({', '.join(sorted(names))})."
            )
    if not features and isinstance(node, MappingNode) and not problems:
        problems.append(f"{_line(node)}: declare at least one feature in view {view!r}.")
    return features


def _feature(name: str, node: Node, source: SourceSpec, problems: list[str]) -> FeatureSpec | None:
    keys = _mapping(node, f"feature {name!r}", problems)
    _unknown(keys, FEATURE_KEYS, f"feature {name!r}", problems)
    if "ratio" in keys:
        parts = keys["ratio"].value if isinstance(keys["ratio"], SequenceNode) else []
        if len(parts) != 2 or len(keys) != 1:
            problems.append(
                f"{_line(node)}: feature {name!r} is a ratio: write only "
                "`ratio: [numerator, denominator]`."
            )
            return None
        return FeatureSpec(name, ratio=[_scalar(part) for part in parts])
    agg, column = _scalar(keys.get("agg")), _scalar(keys.get("column"))
    if agg not in AGGREGATIONS:
        problems.append(
            f"{_line(node)}: feature {name!r} needs `agg:` one of {', '.join(AGGREGATIONS)}."
        )
        return None
    if not _column_fits(agg, column, source, name, node, problems):
        return None
    window = _window(keys.get("window"), name, problems)
    return FeatureSpec(name, agg, column, window) if window != -1 else None


def _column_fits(
    agg: str, column: str, source: SourceSpec, name: str, node: Node, problems: list[str]
) -> bool:
    needs_column = AGGREGATIONS[agg].needs_column
    kind = source.schema.get(column)
    if not needs_column and not column:
        return True
    if not needs_column or kind is None:
        problems.append(
            f"{_line(node)}: feature {name!r}: {agg} "
            + ("takes no `column:`." if not needs_column else "needs `column:` of the schema.")
        )
        return False
    if agg in ("sum", "mean") and kind not in NUMERIC:
        problems.append(f"{_line(node)}: feature {name!r}: {agg} needs a numeric column.")
        return False
    return True


def _window(node: Node | None, name: str, problems: list[str]) -> int | None:
    """Seconds, None for lifetime, -1 when wrong (reported)."""
    if node is None or _scalar(node) == "lifetime":
        return None
    seconds = parse_duration(_scalar(node))
    if seconds is None or seconds == 0 or seconds % RESOLUTION:
        problems.append(
            f"{_line(node)}: feature {name!r}: window {_scalar(node)!r} must be a whole number "
            "of minutes, like 30m, 1h, 7d or 90d, or `lifetime`."
        )
        return -1
    return seconds
