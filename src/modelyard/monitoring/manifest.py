"""The `monitors:` section of modelyard.yaml, applied by `modelyard apply` with the rest.

    monitors:
      churn:                        # a model of the project's team
        inputs:                     # the monitor's name
          kind: drift               # drift, prediction_drift, data_quality, errors,
                                    # latency, traffic, live_metric
          threshold: 0.2
          window: 15m               # default 15m
          min_samples: 500          # default 100
          alias: production         # default production
          p_value: 0.01             # drift: the two-sample test's (default 0.01)
          cooldown: 1h              # default 1h
          reactions: [notify, rollback, event]

Registered with jobs (jobs/sections.py) when Django starts: jobs sits below monitoring.
A monitor the file declares belongs to its project: removed from the file, it is deleted;
one declared through the API or CLI is left alone until a file names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from modelyard.accounts.models import Team
from modelyard.features.spec import parse_duration
from modelyard.lib.errors import Conflict, InvalidInput
from modelyard.lib.yaml_nodes import line as _line
from modelyard.lib.yaml_nodes import mapping as _mapping
from modelyard.lib.yaml_nodes import scalar as _scalar
from modelyard.monitoring import services
from modelyard.monitoring.models import Monitor
from modelyard.registry.models import Asset, Kind
from modelyard.registry.services import Actor

KEY = "monitors"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MONITOR_KEYS = {
    "kind",
    "threshold",
    "window",
    "min_samples",
    "alias",
    "p_value",
    "cooldown",
    "reactions",
}
DEFAULTS: dict[str, Any] = {
    "alias": "production",
    "window_seconds": 900,
    "min_samples": 100,
    "ks_pvalue": 0.01,
    "cooldown_seconds": 3600,
    "reactions": [],
}
FIELDS = ("kind", "threshold", *DEFAULTS)


@dataclass(frozen=True)
class MonitorsSpec:
    # {(model, monitor): {field: value}}, and the line each was declared on
    monitors: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)


class Section:
    key = KEY

    def parse(self, text: str) -> tuple[MonitorsSpec, list[str]]:
        """The section (empty if none) and its problems; YAML errors are jobs/spec.py's."""
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            return MonitorsSpec(), []
        if not isinstance(root, MappingNode):
            return MonitorsSpec(), []
        node = next((v for k, v in root.value if k.value == KEY), None)
        problems: list[str] = []
        spec = MonitorsSpec()
        if node is not None:
            for model, monitors in _mapping(node, "monitors", problems).items():
                for name, value in _mapping(monitors, f"monitors of {model}", problems).items():
                    _monitor(spec, model, name, value, problems)
        return spec, problems

    def plan(self, team: Team, project: str, spec: MonitorsSpec) -> list[str]:
        lines = []
        for (model, name), fields in spec.monitors.items():
            existing = _existing(team, model, name, spec.lines[(model, name)])
            if existing is not None and existing.project not in ("", project):
                raise Conflict(
                    f"Monitor {name} of {team.name}/{model} is declared by project "
                    f"{existing.project!r}; rename it here or remove it there first."
                )
            lines += _diff(model, name, existing, fields, project)
        for monitor in _owned(team, project):
            if (monitor.asset.name, monitor.name) not in spec.monitors:
                lines.append(f"- monitor {monitor.asset.name}/{monitor.name}")
        return lines

    def apply(self, actor: Actor, team: Team, project: str, spec: MonitorsSpec) -> None:
        for (model, name), fields in spec.monitors.items():
            existing = _existing(team, model, name, spec.lines[(model, name)])
            if _diff(model, name, existing, fields, project):
                asset = Asset.objects.get(team=team, kind=Kind.MODEL, name=model)
                values = {k: v for k, v in fields.items() if k != "kind"}
                services.declare_monitor(
                    actor, asset, name, fields["kind"], project=project, **values
                )
        for monitor in _owned(team, project):
            if (monitor.asset.name, monitor.name) not in spec.monitors:
                services.delete_monitor(actor, monitor)


SECTION = Section()


def _existing(team: Team, model: str, name: str, line: int) -> Monitor | None:
    asset = Asset.objects.filter(team=team, kind=Kind.MODEL, name=model).first()
    if asset is None:
        raise InvalidInput(
            f"line {line}: no model {team.name}/{model} to monitor; register it first "
            "(`modelyard models register`) or fix the name under `monitors:`."
        )
    return asset.monitors.filter(name=name).first()


def _owned(team: Team, project: str) -> list[Monitor]:
    rows = Monitor.objects.filter(asset__team=team, project=project).select_related("asset")
    return list(rows.order_by("asset__name", "name"))


def _diff(
    model: str, name: str, existing: Monitor | None, fields: dict[str, Any], project: str
) -> list[str]:
    if existing is None:
        return [f"+ monitor {model}/{name} ({fields['kind']})"]
    lines = [
        f"~ monitor {model}/{name}.{key}: {getattr(existing, key)!r} -> {fields[key]!r}"
        for key in FIELDS
        if getattr(existing, key) != fields[key]
    ]
    if existing.project != project:
        lines.append(f"~ monitor {model}/{name}: declared by project {project} from now on")
    return lines


def _monitor(spec: MonitorsSpec, model: str, name: str, node: Node, problems: list[str]) -> None:
    where = f"monitor {model}/{name}"
    keys = _mapping(node, where, problems)
    before = len(problems)
    if not NAME.match(name) or not NAME.match(model):
        problems.append(f"{_line(node)}: {where}: names are lower case letters, digits, - and _.")
    for key, value in keys.items():
        if key not in MONITOR_KEYS:
            known = ", ".join(sorted(MONITOR_KEYS))
            problems.append(f"{_line(value)}: unknown key {key!r} in {where}; use {known}.")
    fields = {**DEFAULTS, **_fields(keys, where, problems)}
    if keys and ("kind" not in keys or "threshold" not in keys):
        problems.append(f"{_line(node)}: {where} needs `kind:` and `threshold:`.")
    if len(problems) == before and keys:
        spec.monitors[(model, name)] = fields
        spec.lines[(model, name)] = node.start_mark.line + 1


def _fields(keys: dict[str, Node], where: str, problems: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "kind" in keys:
        kind = _scalar(keys["kind"])
        if kind not in Monitor.Kind.values:
            problems.append(
                f"{_line(keys['kind'])}: {where}: kind {kind!r} is not one of "
                f"{', '.join(Monitor.Kind.values)}."
            )
        fields["kind"] = kind
    for key, target, parse, rule in (
        ("threshold", "threshold", float, "a number of 0 or more"),
        ("p_value", "ks_pvalue", float, "a number above 0, at most 1"),
        ("min_samples", "min_samples", int, "a whole number of 1 or more"),
    ):
        if key in keys:
            fields[target] = _number(keys[key], key, where, parse, rule, problems)
    for key, target in (("window", "window_seconds"), ("cooldown", "cooldown_seconds")):
        if key in keys:
            seconds = parse_duration(_scalar(keys[key]))
            if seconds is None or (key == "window" and seconds == 0):
                problems.append(f"{_line(keys[key])}: {where}: {key} must be like 15m, 1h or 1d.")
            fields[target] = seconds
    if "alias" in keys:
        fields["alias"] = _scalar(keys["alias"])
    if "reactions" in keys:
        fields["reactions"] = _reactions(keys["reactions"], where, problems)
    return fields


def _number(node: Node, key: str, where: str, parse: type, rule: str, problems: list[str]) -> Any:
    try:
        value = parse(_scalar(node))
    except ValueError:
        value = None
    bad = value is None or value < 0 or (key != "threshold" and value <= 0)
    if bad or (key == "p_value" and value > 1):
        problems.append(f"{_line(node)}: {where}: {key} must be {rule}.")
    return value


def _reactions(node: Node, where: str, problems: list[str]) -> list[str]:
    items = [_scalar(item) for item in node.value] if isinstance(node, SequenceNode) else []
    unknown = [item for item in items if item not in Monitor.REACTIONS]
    if not isinstance(node, SequenceNode) or unknown:
        problems.append(
            f"{_line(node)}: {where}: reactions must be a list of "
            f"{', '.join(Monitor.REACTIONS)}, e.g. [notify, rollback]."
        )
    return items
