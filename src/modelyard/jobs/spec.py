"""`modelyard.yaml`: parsed, checked and normalised, with errors that give the line.

    project: churn
    team: growth
    program: churn_model            # a module, or a path to a folder holding it
    timezone: Europe/Paris          # of the cron schedules (default UTC)
    share_events_with: [ops]        # teams whose commands may hear this team's events
    commands:
      train:
        schedule: "0 6 * * *"
        timeout: 2h
        retries: 2
      report:
        run: python -m churn_model.report --format html   # or a command line (a list works too)
      score:
        entry: score_all            # function in the program (default: the command's name)
        on:
          - dataset_version_created: {dataset: events}
          - model_promoted: {model: churn, alias: production}
          - table_loaded: {from: ops, table: clicks}   # team ops's event (ops must share)
        concurrency: 2

Every problem is reported at once, each as "line N: what is wrong, and what to write".
"""

from __future__ import annotations

import re
import shlex
import zoneinfo
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from modelyard.jobs.cron import Cron, CronError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
# The platform's events (the registry's, and monitoring's `model_alert`) and the filters
# they take; any other event name is an external event (POST /api/v1/events) and takes any
# filter on its payload. These names are reserved: only the platform sends them, so nobody
# can fake a promotion or an alert to start another team's commands.
REGISTRY_EVENTS = {
    "dataset_version_created": {"dataset"},
    "featureset_version_created": {"featureset"},
    "model_version_created": {"model"},
    "model_promoted": {"model", "alias"},
    "model_alert": {"model", "monitor", "kind"},
}
# `features:` is the feature store's section (features/spec.py parses it), `monitors:`
# monitoring's (registered in jobs/sections.py).
PROJECT_KEYS = {
    "project",
    "team",
    "program",
    "timezone",
    "share_events_with",
    "commands",
    "features",
    "monitors",
}
FROM = "from"  # in a trigger: the team whose events it hears (default: the project's)
COMMAND_KEYS = {"entry", "run", "schedule", "timeout", "retries", "concurrency", "on", "args"}


class SpecError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class CommandSpec:
    name: str
    entry: str
    schedule: str = ""
    timeout_seconds: int = 3600
    retries: int = 0
    concurrency: int = 1
    triggers: list[dict[str, Any]] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)
    run: list[str] = field(default_factory=list)  # a command line instead of a function


@dataclass(frozen=True)
class ProjectSpec:
    project: str
    team: str
    program: str
    timezone: str
    commands: dict[str, CommandSpec]
    share_events_with: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def parse(text: str) -> ProjectSpec:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise SpecError([f"{where}not valid YAML ({getattr(error, 'problem', error)})."]) from None
    problems: list[str] = []
    spec = _project(root, problems)
    if problems or spec is None:
        raise SpecError(problems or ["The file is empty; start with `project: NAME`."])
    return spec


def _line(node: Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _mapping(node: Node | None, what: str, problems: list[str]) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        where = _line(node) if node is not None else "line 1"
        problems.append(f"{where}: {what} must be a mapping of `key: value` lines.")
        return {}
    found: dict[str, Node] = {}
    for key, value in node.value:
        found[str(key.value)] = value
    return found


def _text(node: Node | None, what: str, problems: list[str], pattern: re.Pattern[str]) -> str:
    if node is None:
        return ""
    if not isinstance(node, ScalarNode) or not pattern.match(str(node.value)):
        problems.append(f"{_line(node)}: {what} {_shown(node)} is not valid ({pattern.pattern}).")
        return ""
    return str(node.value)


def _shown(node: Node) -> str:
    return repr(node.value) if isinstance(node, ScalarNode) else "(a list or mapping)"


def _unknown(keys: dict[str, Node], allowed: set[str], where: str, problems: list[str]) -> None:
    for key, value in keys.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            problems.append(f"{_line(value)}: unknown key {key!r} in {where}; use {known}.")


def _project(root: Node | None, problems: list[str]) -> ProjectSpec | None:
    if root is None:
        return None
    keys = _mapping(root, "the file", problems)
    _unknown(keys, PROJECT_KEYS, "the project", problems)
    # A project may declare only features or monitors: then it runs no program.
    declarative = "features" in keys or "monitors" in keys
    needed = ("project", "team") if declarative else ("project", "team", "program", "commands")
    for required in needed:
        if required not in keys and keys:
            problems.append(f"{_line(root)}: `{required}:` is missing.")
    name = _text(keys.get("project"), "project", problems, NAME)
    team = _text(keys.get("team"), "team", problems, NAME)
    program = _program(keys.get("program"), problems)
    timezone = _timezone(keys.get("timezone"), problems)
    commands = _commands(keys.get("commands"), timezone, problems)
    _other_teams_named(commands, team, problems)
    sharing = _team_list(keys.get("share_events_with"), problems)
    return ProjectSpec(name, team, program, timezone, commands, sharing)


def _team_list(node: Node | None, problems: list[str]) -> list[str]:
    if node is None:
        return []
    items = node.value if isinstance(node, SequenceNode) else None
    if items is None or not all(isinstance(i, ScalarNode) and NAME.match(i.value) for i in items):
        problems.append(f"{_line(node)}: share_events_with must be a list of team names.")
        return []
    return sorted({str(item.value) for item in items})


def _other_teams_named(commands: dict[str, CommandSpec], team: str, problems: list[str]) -> None:
    """A registry event's filter on another team's asset (`model: blue/churn`) hears nothing
    unless the trigger also says `from: blue`: an event carries the team that sent it."""
    for command in commands.values():
        for trigger in command.triggers:
            sender = trigger.get(FROM, team)
            assets = REGISTRY_EVENTS.get(trigger["event"], set()) - {"alias"}
            for key, value in trigger["filter"].items():
                named, slash, _ = str(value).partition("/")
                if key in assets and slash and named != sender:
                    problems.append(
                        f"command {command.name!r}: {trigger['event']} {key}: {value} is team "
                        f"{named}'s; add `from: {named}` to hear that team's events "
                        f"(team {named} must list {team} in `share_events_with:`)."
                    )


def _program(node: Node | None, problems: list[str]) -> str:
    if node is None:
        return ""
    if not isinstance(node, ScalarNode) or not str(node.value).strip():
        problems.append(f"{_line(node)}: program must be a module name or a folder path.")
        return ""
    return str(node.value).strip()


def _timezone(node: Node | None, problems: list[str]) -> str:
    if node is None:
        return "UTC"
    name = str(node.value) if isinstance(node, ScalarNode) else ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"{_line(node)}: unknown time zone {name!r}; e.g. Europe/Paris or UTC.")
        return "UTC"
    return name


def _commands(node: Node | None, timezone: str, problems: list[str]) -> dict[str, CommandSpec]:
    if node is None:
        return {}
    commands = {}
    for name, value in _mapping(node, "commands", problems).items():
        if not IDENTIFIER.match(name):
            problems.append(f"{_line(value)}: command name {name!r} must be an identifier.")
            continue
        commands[name] = _command(name, value, problems)
    if not commands and isinstance(node, MappingNode):
        problems.append(f"{_line(node)}: declare at least one command.")
    return commands


def _command(name: str, node: Node, problems: list[str]) -> CommandSpec:
    keys = _mapping(node, f"command {name!r}", problems)
    _unknown(keys, COMMAND_KEYS, f"command {name!r}", problems)
    run = _run(keys.get("run"), problems)
    if run and "entry" in keys:
        problems.append(
            f"{_line(keys['entry'])}: command {name!r} gives both `entry:` (a function) and "
            "`run:` (a command line); keep one."
        )
    entry = "" if run else _text(keys.get("entry"), "entry", problems, IDENTIFIER) or name
    return CommandSpec(
        name,
        entry,
        _schedule(keys.get("schedule"), problems),
        _duration(keys.get("timeout"), problems),
        _count(keys.get("retries"), "retries", 0, 0, problems),
        _count(keys.get("concurrency"), "concurrency", 1, 1, problems),
        _triggers(keys.get("on"), problems),
        _args(keys.get("args"), problems),
        run,
    )


def _run(node: Node | None, problems: list[str]) -> list[str]:
    """A command line: a string, split as a shell would (no shell runs it), or a list."""
    if node is None:
        return []
    if isinstance(node, SequenceNode) and all(isinstance(i, ScalarNode) for i in node.value):
        argv = [str(item.value) for item in node.value]
    elif isinstance(node, ScalarNode):
        try:
            argv = shlex.split(str(node.value))
        except ValueError as error:
            problems.append(f"{_line(node)}: run {_shown(node)} does not split: {error}.")
            return []
    else:
        argv = []
    if not argv or not argv[0]:
        problems.append(
            f"{_line(node)}: run must be a command line, e.g. `run: python -m churn.train`."
        )
    return argv


def _args(node: Node | None, problems: list[str]) -> dict[str, str]:
    """Fixed arguments the command reads as ctx.args (e.g. the built-in score's model)."""
    if node is None:
        return {}
    found = _mapping(node, "args", problems)
    for key, value in found.items():
        if not isinstance(value, ScalarNode):
            problems.append(f"{_line(value)}: args.{key} must be a single value.")
    return {k: str(v.value) for k, v in found.items() if isinstance(v, ScalarNode)}


def _schedule(node: Node | None, problems: list[str]) -> str:
    if node is None:
        return ""
    text = str(node.value).strip() if isinstance(node, ScalarNode) else ""
    try:
        cron = Cron.parse(text)
    except CronError:
        problems.append(
            f"{_line(node)}: schedule {text!r} is not a cron line of five fields "
            '(minute hour day-of-month month day-of-week), e.g. "0 6 * * *".'
        )
        return ""
    if cron.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
        problems.append(f"{_line(node)}: schedule {text!r} names a day that never comes.")
        return ""
    return " ".join(text.split())


def _duration(node: Node | None, problems: list[str]) -> int:
    if node is None:
        return 3600
    text = str(node.value).strip() if isinstance(node, ScalarNode) else ""
    if text.isdigit() and int(text) > 0:
        return int(text)
    match = DURATION.match(text)
    if not text or match is None or not any(match.groups()):
        problems.append(f"{_line(node)}: timeout {text!r} must be like 2h, 30m, 1h30m or 90s.")
        return 3600
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _count(node: Node | None, what: str, default: int, least: int, problems: list[str]) -> int:
    if node is None:
        return default
    text = str(node.value) if isinstance(node, ScalarNode) else ""
    if not text.isdigit() or int(text) < least:
        problems.append(f"{_line(node)}: {what} must be a whole number ≥ {least}.")
        return default
    return int(text)


def _triggers(node: Node | None, problems: list[str]) -> list[dict[str, Any]]:
    if node is None:
        return []
    if not isinstance(node, SequenceNode):
        problems.append(f"{_line(node)}: `on:` must be a list of `- event: {{filter}}` items.")
        return []
    return [t for item in node.value if (t := _trigger(item, problems)) is not None]


def _trigger(node: Node, problems: list[str]) -> dict[str, Any] | None:
    keys = _mapping(node, "each `on:` item", problems)
    if len(keys) != 1:
        problems.append(f"{_line(node)}: each `on:` item names one event.")
        return None
    event, value = next(iter(keys.items()))
    if not EVENT_NAME.match(event):
        problems.append(f"{_line(node)}: {event!r} is not an event name.")
        return None
    filters = {k: str(v.value) for k, v in _mapping(value, event, problems).items()}
    sender = filters.pop(FROM, None)
    if sender is not None and not NAME.match(sender):
        problems.append(f"{_line(value)}: `from: {sender}` must name a team.")
    allowed = REGISTRY_EVENTS.get(event)
    if allowed is not None:
        unknown = sorted(set(filters) - allowed)
        if unknown:
            problems.append(
                f"{_line(value)}: {event} filters on {', '.join(sorted(allowed))}, "
                f"not {', '.join(unknown)}."
            )
    trigger: dict[str, Any] = {"event": event, "filter": filters}
    if sender:
        trigger[FROM] = sender
    return trigger
