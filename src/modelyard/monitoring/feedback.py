"""True labels of logged predictions, by request id or by entity keys and a time.

A model whose inputs identify an entity (a customer id, a store and a day) names those input
columns its entity keys (LogSettings.entity_keys); its log then keeps each row's entity, and
a label may say "user 42's prediction as of 10:05" instead of quoting the X-Request-ID the
server answered with: it labels the latest prediction for that entity at or before that time
(live.py joins them when the live-metric monitor is evaluated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from modelyard.audit.services import record
from modelyard.lib.errors import InvalidInput
from modelyard.monitoring.models import Feedback, LogSettings
from modelyard.monitoring.summaries import entity_text
from modelyard.registry.models import Asset, AssetVersion, Kind
from modelyard.registry.services import Actor
from modelyard.serving.signature import Signature, SignatureError

MAX_FEEDBACK = 10_000
MAX_ENTITY_KEYS = 4


@dataclass(frozen=True)
class Label:
    """One label: `request_id`, or `keys` ({entity key: value}) and `at`."""

    label: Any
    request_id: str = ""
    keys: dict[str, Any] | None = None
    at: datetime | None = None


def _model(asset: Asset) -> None:
    if asset.kind != Kind.MODEL:
        raise InvalidInput(f"{asset.ref} is a {asset.kind}; only models are monitored.")


@transaction.atomic
def record_labels(actor: Actor, asset: Asset, labels: list[Label]) -> int:
    """Store the labels; one sent again (same request id, or same entity and time) replaces
    the earlier one. All or nothing: a bad one refuses the batch, naming it."""
    _model(asset)
    if not labels or len(labels) > MAX_FEEDBACK:
        raise InvalidInput(f"Send between 1 and {MAX_FEEDBACK} labels per request.")
    keys = _entity_keys(asset)
    for position, item in enumerate(labels):
        request_id, entity, at = _target(asset, keys, position, item)
        if request_id:
            Feedback.objects.update_or_create(
                asset=asset, request_id=request_id, defaults={"label": item.label}
            )
        else:
            Feedback.objects.update_or_create(
                asset=asset, entity=entity, event_at=at, defaults={"label": item.label}
            )
    record(actor, "model.feedback_received", asset=asset, details={"labels": len(labels)})
    return len(labels)


def _target(
    asset: Asset, keys: list[str], position: int, item: Label
) -> tuple[str, str, datetime | None]:
    """(request id, entity text, time) the label is for; InvalidInput naming the label."""
    where = f"label {position + 1}"
    if item.request_id and (item.keys or item.at):
        raise InvalidInput(f"{where}: give a request id, or entity keys and a time, not both.")
    if item.request_id:
        return item.request_id, "", None
    if not item.keys or item.at is None:
        raise InvalidInput(f"{where}: give a request_id, or keys and a time.")
    if not keys:
        raise InvalidInput(
            f"{asset.ref} has no entity keys, so labels must name request ids; set them with "
            f"`modelyard monitor log {asset.ref} --entity-key COLUMN`."
        )
    if sorted(item.keys) != sorted(keys):
        raise InvalidInput(
            f"{where}: keys {', '.join(sorted(item.keys))} are not {asset.ref}'s entity keys "
            f"({', '.join(keys)})."
        )
    if item.at.tzinfo is None:
        raise InvalidInput(f"{where}: give the time with its offset, e.g. 2026-12-01T10:05Z.")
    return "", entity_text(item.keys), item.at


def _entity_keys(asset: Asset) -> list[str]:
    found = LogSettings.objects.filter(asset=asset).values_list("entity_keys", flat=True).first()
    return list(found or [])


@transaction.atomic
def set_entity_keys(actor: Actor, asset: Asset, keys: list[str]) -> LogSettings:
    """Name the input columns that identify an entity (an empty list: none)."""
    _model(asset)
    if len(keys) > MAX_ENTITY_KEYS or len(set(keys)) != len(keys):
        raise InvalidInput(f"Name at most {MAX_ENTITY_KEYS} different entity key columns.")
    inputs = _input_names(asset)
    unknown = [key for key in keys if inputs is not None and key not in inputs]
    if unknown:
        raise InvalidInput(
            f"Entity key(s) {', '.join(unknown)} are not inputs of {asset.ref} "
            f"({', '.join(inputs or [])}): the log keeps only the inputs."
        )
    settings, _ = LogSettings.objects.select_for_update().get_or_create(asset=asset)
    settings.entity_keys = keys
    settings.save()
    record(actor, "model.log_configured", asset=asset, details={"entity_keys": keys})
    return settings


def _input_names(asset: Asset) -> list[str] | None:
    """The newest version's input columns; None when it declares no usable signature."""
    newest = AssetVersion.objects.filter(asset=asset).order_by("-version").first()
    if newest is None:
        return None
    try:
        return Signature.parse(newest.signature).names
    except SignatureError:
        return None
