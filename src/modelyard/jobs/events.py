"""Events that trigger runs: the registry's, and external ones from POST /api/v1/events.

Every event goes through the broker (`handle_event` task), so a burst is absorbed by the
queue rather than by the process that produced it. A command listens with `on:` items
whose filter must match the event's payload; a name in a filter without a team
(`dataset: events`) means the project's own team.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from modelyard.registry.models import Kind
from modelyard.registry.signals import alias_moved, version_registered

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
    from modelyard.jobs.models import Command
    from modelyard.jobs.services import request_run

    listening = Command.objects.filter(active=True, listens__contains=f" {event} ")
    listening = listening.select_related("project__team")
    queued = 0
    for command in listening:
        if any(_matches(t, event, payload, command.project.team.name) for t in command.triggers):
            request_run(command, "event", {"event": event, **payload})
            queued += 1
    return queued


def _matches(trigger: dict[str, Any], event: str, payload: dict[str, Any], team: str) -> bool:
    if trigger.get("event") != event:
        return False
    for key, wanted in trigger.get("filter", {}).items():
        got = str(payload.get(key, ""))
        if got != wanted and got != f"{team}/{wanted}":
            return False
    return True
