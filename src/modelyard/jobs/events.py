"""Events that trigger runs: the registry's, and external ones from POST /api/v1/events.

Every event goes through the broker (`handle_event` task), so a burst is absorbed by the
queue rather than by the process that produced it. A command listens with `on:` items
whose filter must match the event's payload; a name in a filter without a team
(`dataset: events`) means the project's own team.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.db import transaction

from modelyard.registry.models import Kind
from modelyard.registry.signals import alias_moved, version_registered

if TYPE_CHECKING:
    from modelyard.jobs.models import Command

CREATED_EVENTS = {
    Kind.DATASET: "dataset_version_created",
    Kind.FEATURE_SET: "featureset_version_created",
    Kind.MODEL: "model_version_created",
}


def emit(event: str, payload: dict[str, Any]) -> None:
    from modelyard.jobs.tasks import handle_event

    transaction.on_commit(lambda: handle_event.delay(event, payload))


def connect_registry_signals() -> None:
    version_registered.connect(_on_version_registered, dispatch_uid="jobs.version_registered")
    alias_moved.connect(_on_alias_moved, dispatch_uid="jobs.alias_moved")


def _on_version_registered(sender: Any, *, version_id: int, kind: str, **_: Any) -> None:
    from modelyard.registry.models import AssetVersion

    version = AssetVersion.objects.select_related("asset__team").get(pk=version_id)
    emit(
        CREATED_EVENTS[Kind(kind)], {kind: version.asset.ref, "kind": kind, "version": version.ref}
    )


def _on_alias_moved(
    sender: Any, *, version_id: int, kind: str, asset_ref: str, alias: str, **_: Any
) -> None:
    if kind != Kind.MODEL:
        return
    from modelyard.registry.models import AssetVersion

    version = AssetVersion.objects.get(pk=version_id)
    payload = {
        "model": asset_ref,
        "alias": alias,
        "kind": kind,
        "version": f"{asset_ref}:{version.version}",
    }
    emit("model_promoted", payload)


def handle(event: str, payload: dict[str, Any]) -> int:
    """Queue a run of (or count the event into the queued run of) every command it matches."""
    from modelyard.jobs.models import Command, Listener
    from modelyard.jobs.services import absorb

    candidates = Listener.objects.filter(key__in=event_keys(event, payload)).values("command_id")
    listening = Command.objects.filter(active=True, pk__in=candidates)
    listening = listening.select_related("project__team").defer("project__spec", "project__source")
    queued = 0
    for command in listening:
        if any(_matches(t, event, payload, command.project.team.name) for t in command.triggers):
            absorb(command, "event", {"event": event, **payload})
            queued += 1
    return queued


# --- the listener index -----------------------------------------------------------------------
# A trigger is indexed under its event and one of its filters (any one: a match needs them
# all), in both forms the filter matches (`events` and `team/events`); an event looks up its
# name and each of its payload's items. The index only narrows: _matches decides.


def listener_keys(trigger: dict[str, Any], team: str) -> set[str]:
    event, filters = str(trigger["event"]), trigger.get("filter", {})
    if not filters:
        return {_key(event)}
    name = min(filters)
    wanted = str(filters[name])
    return {_key(event, name, wanted), _key(event, name, f"{team}/{wanted}")}


def event_keys(event: str, payload: dict[str, Any]) -> list[str]:
    items = (_key(event, str(name), str(value)) for name, value in payload.items())
    return [_key(event), *items]


def _key(event: str, name: str | None = None, value: str = "") -> str:
    text = event if name is None else f"{event} {name}={value}"
    # Long values are hashed, so any value fits the indexed column.
    return text if len(text) <= 200 else "#" + hashlib.sha256(text.encode()).hexdigest()


def index_listeners(command: Command) -> None:
    """Rewrite a command's rows of the index from its triggers (called by `apply`)."""
    from modelyard.jobs.models import Listener

    team = command.project.team.name
    keys = set().union(*(listener_keys(t, team) for t in command.triggers))
    command.listeners.exclude(key__in=keys).delete()
    Listener.objects.bulk_create(
        [Listener(command=command, key=key) for key in sorted(keys)], ignore_conflicts=True
    )


def _matches(trigger: dict[str, Any], event: str, payload: dict[str, Any], team: str) -> bool:
    if trigger.get("event") != event:
        return False
    for key, wanted in trigger.get("filter", {}).items():
        got = str(payload.get(key, ""))
        if got != wanted and got != f"{team}/{wanted}":
            return False
    return True
