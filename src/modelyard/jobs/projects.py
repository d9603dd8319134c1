"""Applying a modelyard.yaml: the diff against what is applied, then the rows and schedules.

The `features:` section is the feature store's (features/spec.py, features/services.py):
its problems are reported with the rest, its changes listed and written in the same
transaction.

Commands removed from the file are deactivated, not deleted, so their runs stay readable,
and no longer fire. A command whose schedule (or the project's time zone) changed is due
from its next instant on (jobs/firing.py); beat itself holds no per-command entry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction

from modelyard.accounts.models import Team
from modelyard.audit.services import record
from modelyard.features import services as features
from modelyard.features import spec as features_spec
from modelyard.jobs.events import index_listeners
from modelyard.jobs.firing import arm
from modelyard.jobs.models import Command, Project
from modelyard.jobs.sections import SECTIONS
from modelyard.jobs.spec import CommandSpec, ProjectSpec, SpecError, parse
from modelyard.lib.errors import InvalidInput, NotFound
from modelyard.registry.services import Actor, user_of


@dataclass(frozen=True)
class Applied:
    project: str
    changes: list[str]
    dry_run: bool


@dataclass(frozen=True)
class Plan:
    spec: ProjectSpec
    features: features_spec.FeaturesSpec
    team: Team
    project: Project | None
    changes: list[str]
    sections: dict[str, Any]


def plan(text: str) -> Plan:
    spec, feature_spec, sections = _parse(text)
    team = Team.objects.filter(name=spec.team).first()
    if team is None:
        raise NotFound(f"No team {spec.team!r}; create it or fix `team:` in modelyard.yaml.")
    project = Project.objects.filter(team=team, name=spec.project).first()
    changes = diff(project.spec if project else None, spec.as_json())
    changes += features.plan(team, spec.project, feature_spec)
    for key, section_spec in sections.items():
        changes += SECTIONS[key].plan(team, spec.project, section_spec)
    return Plan(spec, feature_spec, team, project, changes, sections)


def _parse(text: str) -> tuple[ProjectSpec, features_spec.FeaturesSpec, dict[str, Any]]:
    feature_spec, problems = features_spec.parse(text)
    sections = {}
    for key, section in SECTIONS.items():
        sections[key], found = section.parse(text)
        problems += found
    try:
        spec = parse(text)
    except SpecError as error:
        problems = error.problems + problems
    if problems:
        raise InvalidInput(
            "modelyard.yaml is not valid:\n" + "\n".join(problems), problems=problems
        ) from None
    return spec, feature_spec, sections


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    if old is None:
        return [f"+ project {new['team']}/{new['project']}"] + [
            f"+ command {name}" for name in new["commands"]
        ]
    # A key the applied spec predates is no change while it has its default.
    was = {"share_events_with": [], **old}
    lines = [
        f"~ {key}: {was.get(key)!r} -> {new[key]!r}"
        for key in ("program", "timezone", "share_events_with")
        if was.get(key) != new[key]
    ]
    before, after = old.get("commands", {}), new["commands"]
    lines += [f"+ command {name}" for name in after if name not in before]
    lines += [f"- command {name}" for name in before if name not in after]
    for name in after:
        if name in before:
            lines += _command_diff(name, before[name], after[name])
    return lines


def _command_diff(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    # A key the applied spec predates (None there) is no change while it has its default.
    changed = [key for key in new if old.get(key) != new[key] and (key in old or new[key])]
    return [f"~ {name}.{key}: {_short(old.get(key))} -> {_short(new[key])}" for key in changed]


def _short(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else repr(value)


def apply(actor: Actor, text: str, *, dry_run: bool = False) -> Applied:
    planned = plan(text)
    if not dry_run and planned.changes:
        _write(actor, planned, text)
    return Applied(f"{planned.team.name}/{planned.spec.project}", planned.changes, dry_run)


@transaction.atomic
def _write(actor: Actor, planned: Plan, text: str) -> None:
    spec, team, project, changes = planned.spec, planned.team, planned.project, planned.changes
    zone_changed = project is not None and project.timezone != spec.timezone
    project = project or Project(team=team, name=spec.project)
    project.program, project.timezone = spec.program, spec.timezone
    project.shares_events_with = spec.share_events_with
    project.spec, project.source, project.applied_by = spec.as_json(), text, user_of(actor)
    project.save()
    for command_spec in spec.commands.values():
        _upsert_command(project, command_spec, zone_changed)
    removed = project.commands.exclude(name__in=list(spec.commands)).filter(active=True)
    removed.update(active=False, next_fire_at=None)
    features.apply(actor, team, spec.project, planned.features)
    for key, section_spec in planned.sections.items():
        SECTIONS[key].apply(actor, team, spec.project, section_spec)
    record(
        actor, "project.applied", team=team, details={"project": project.ref, "changes": changes}
    )


def _upsert_command(project: Project, spec: CommandSpec, zone_changed: bool) -> Command:
    before = project.commands.filter(name=spec.name).first()
    values = asdict(spec)
    values.pop("name")
    command, _ = Command.objects.update_or_create(
        project=project, name=spec.name, defaults={**values, "active": True}
    )
    index_listeners(command)
    if before is None or not before.active or before.schedule != spec.schedule or zone_changed:
        arm(command)  # due from its next instant on, in the zone as it is now
    return command
