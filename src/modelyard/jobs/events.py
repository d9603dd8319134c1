"""Events that trigger runs: the registry's, and external ones sent by a team's members.

Every event carries the team that sent it: for the registry's events the team owning the
asset, for an external one (POST /api/v1/events) the team its sender sends it for, of
which the sender must be a member. The registry's event names are reserved: nobody else
may send them. A command hears the events of its own project's team; a trigger that says
`from: TEAM` hears that team's events instead, and only while that team shares its events
with the command's team (`share_events_with:` in any of its projects' modelyard.yaml).

Every event goes through the broker (`handle_event` task), so a burst is absorbed by the
queue rather than by the process that produced it. A command listens with `on:` items
whose filter must match the event's payload; a name in a filter without a team
(`dataset: events`) means the sending team's.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction

from modelyard.accounts import permissions
from modelyard.accounts.models import Team
from modelyard.audit.services import record
from modelyard.jobs.models import Command, Listener, Project
from modelyard.jobs.queue import HANDLE_EVENT, enqueue
from modelyard.jobs.services import absorb
from modelyard.jobs.spec import REGISTRY_EVENTS
from modelyard.lib.errors import Forbidden
from modelyard.registry.models import AssetVersion, Kind
from modelyard.registry.refs import parse_ref
from modelyard.registry.services import Actor
from modelyard.registry.signals import alias_moved, version_registered

CREATED_EVENTS = {
    Kind.DATASET: "dataset_version_created",
    Kind.FEATURE_SET: "featureset_version_created",
    Kind.MODEL: "model_version_created",
}


def emit(event: str, payload: dict[str, Any], team: str) -> None:
    """Send the event of that team to its listeners, once the transaction commits."""
    transaction.on_commit(lambda: enqueue(HANDLE_EVENT, event, payload, team))


# --- external events --------------------------------------------------------------------------


def send(actor: Actor, team: Team, event: str, payload: dict[str, Any]) -> None:
    """An external event, sent for `team` by one of its members (the caller checked that).

    The registry's own event names are refused: a made-up `model_promoted` would run the
    commands that deploy on a real promotion."""
    if event in REGISTRY_EVENTS:
        raise refuse(
            actor,
            team,
            event,
            f"`{event}` is sent by the registry itself when it happens, and nobody may send "
            f"it; give your event a name of its own (reserved: {', '.join(REGISTRY_EVENTS)}).",
        )
    record(actor, "event.sent", team=team, details={"event": event, "payload": payload})
    emit(event, payload, team.name)


def refuse(actor: Actor, team: Team | None, event: str, message: str) -> Forbidden:
    """Record a refused event as every refusal is (`access.denied`, rate-limited per actor;
    the target is the event's name) and return the error to raise."""
    who = actor if actor is not None else "system"
    return permissions.refuse(who, f"send the event {event}", team, message, target=event)


# --- the registry's events --------------------------------------------------------------------


def connect_registry_signals() -> None:
    version_registered.connect(_on_version_registered, dispatch_uid="jobs.version_registered")
    alias_moved.connect(_on_alias_moved, dispatch_uid="jobs.alias_moved")


def _on_version_registered(sender: Any, *, version_id: int, kind: str, **_: Any) -> None:
    version = AssetVersion.objects.select_related("asset__team").get(pk=version_id)
    payload = {kind: version.asset.ref, "kind": kind, "version": version.ref}
    emit(CREATED_EVENTS[Kind(kind)], payload, version.asset.team.name)


def _on_alias_moved(
    sender: Any, *, version_id: int, kind: str, asset_ref: str, alias: str, **_: Any
) -> None:
    if kind != Kind.MODEL:
        return
    version = AssetVersion.objects.get(pk=version_id)
    payload = {
        "model": asset_ref,
        "alias": alias,
        "kind": kind,
        "version": f"{asset_ref}:{version.version}",
    }
    emit("model_promoted", payload, parse_ref(asset_ref).team)


# --- handling ---------------------------------------------------------------------------------


def handle(event: str, payload: dict[str, Any], team: str) -> int:
    """Queue a run of (or count the event into the queued run of) every command it matches."""
    candidates = Listener.objects.filter(key__in=event_keys(event, payload)).values("command_id")
    listening = Command.objects.filter(active=True, pk__in=candidates)
    listening = listening.select_related("project__team").defer("project__spec", "project__source")
    shared_with: set[str] | None = None  # read once, and only when another team listens
    queued = 0
    for command in listening:
        listener = command.project.team.name
        if listener != team:
            shared_with = shared_with if shared_with is not None else sharing(team)
            if listener not in shared_with:
                continue
        if any(_matches(t, event, payload, team, listener) for t in command.triggers):
            absorb(command, "event", {"event": event, **payload})
            queued += 1
    return queued


def sharing(team: str) -> set[str]:
    """The teams a team shares its events with (declared in its projects)."""
    lists = Project.objects.filter(team__name=team).values_list("shares_events_with", flat=True)
    return {name for names in lists for name in names}


def _matches(
    trigger: dict[str, Any], event: str, payload: dict[str, Any], sender: str, listener: str
) -> bool:
    if trigger.get("event") != event or trigger.get("from", listener) != sender:
        return False
    for key, wanted in trigger.get("filter", {}).items():
        got = str(payload.get(key, ""))
        if got != wanted and got != f"{sender}/{wanted}":
            return False
    return True


# --- the listener index -----------------------------------------------------------------------
# A trigger is indexed under its event and one of its filters (any one: a match needs them
# all), in both forms the filter matches (`events` and `team/events`, the team being the
# one it hears); an event looks up its name and each of its payload's items. The index only
# narrows: handle and _matches decide.


def listener_keys(trigger: dict[str, Any], team: str) -> set[str]:
    event, filters = str(trigger["event"]), trigger.get("filter", {})
    if not filters:
        return {_key(event)}
    name = min(filters)
    wanted = str(filters[name])
    sender = trigger.get("from", team)
    return {_key(event, name, wanted), _key(event, name, f"{sender}/{wanted}")}


def event_keys(event: str, payload: dict[str, Any]) -> list[str]:
    items = (_key(event, str(name), str(value)) for name, value in payload.items())
    return [_key(event), *items]


def _key(event: str, name: str | None = None, value: str = "") -> str:
    text = event if name is None else f"{event} {name}={value}"
    # Long values are hashed, so any value fits the indexed column.
    return text if len(text) <= 200 else "#" + hashlib.sha256(text.encode()).hexdigest()


def index_listeners(command: Command) -> None:
    """Rewrite a command's rows of the index from its triggers (called by `apply`)."""
    team = command.project.team.name
    keys = set().union(*(listener_keys(t, team) for t in command.triggers))
    command.listeners.exclude(key__in=keys).delete()
    Listener.objects.bulk_create(
        [Listener(command=command, key=key) for key in sorted(keys)], ignore_conflicts=True
    )
