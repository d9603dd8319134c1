"""Changes to what the prediction server knows about a model: one transaction, one audit row."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from modelyard.audit.services import record
from modelyard.lib.errors import InvalidInput
from modelyard.registry.models import Asset, Kind
from modelyard.registry.services import Actor
from modelyard.serving.models import ServingSettings

FIELDS = ("max_batch_size", "max_wait_ms")


def serving_settings(asset: Asset) -> ServingSettings:
    """The model's settings, or the defaults (unsaved) when none were set."""
    return ServingSettings.objects.filter(asset=asset).first() or ServingSettings(asset=asset)


@transaction.atomic
def configure_serving(actor: Actor, asset: Asset, **changes: Any) -> ServingSettings:
    """Update the model's micro-batching; only the given (non-None) values change."""
    if asset.kind != Kind.MODEL:
        raise InvalidInput(f"{asset.ref} is a {asset.kind}; serving settings belong to models.")
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown serving setting(s) {', '.join(sorted(unknown))}.")
    settings, _ = ServingSettings.objects.select_for_update().get_or_create(asset=asset)
    changed = {k: v for k, v in changes.items() if v is not None and getattr(settings, k) != v}
    if changed.get("max_batch_size") == 0 or changed.get("max_wait_ms", 0) < 0:
        raise InvalidInput("max_batch_size must be at least 1 and max_wait_ms at least 0.")
    if not changed:
        return settings
    for name, value in changed.items():
        setattr(settings, name, value)
    settings.save()
    record(actor, "model.serving_configured", asset=asset, details=changed)
    return settings
