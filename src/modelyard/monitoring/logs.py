"""Registering the prediction log: each finished hour of a model's log becomes a version of
the team's data set TEAM/NAME-predictions, by reference to that hour's folder, with lineage
to the model versions it logged; the lifecycle then cleans it like any data set."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models.functions import TruncHour
from django.utils import timezone

from modelyard.lib.errors import NotFound
from modelyard.monitoring.log import hour_prefix
from modelyard.monitoring.models import LoggedHour, WindowSummary
from modelyard.registry import services as registry
from modelyard.registry.models import Asset, AssetVersion, Kind, LineageEdge

ACTOR = "system:prediction-log"
LOOK_BACK = timedelta(days=2)


def register_finished_hours() -> int:
    """Register every finished hour not registered yet; return how many were."""
    current = timezone.now().replace(minute=0, second=0, microsecond=0)
    hours = (
        WindowSummary.objects.filter(
            window_start__lt=current, window_start__gte=current - LOOK_BACK
        )
        .annotate(hour=TruncHour("window_start"))
        .values_list("asset_id", "hour")
        .distinct()
    )
    done = set(
        LoggedHour.objects.filter(hour__gte=current - LOOK_BACK).values_list("asset_id", "hour")
    )
    registered = 0
    for asset_id, hour in sorted(set(hours) - done):
        register_hour(Asset.objects.select_related("team").get(pk=asset_id), hour)
        registered += 1
    return registered


def register_hour(model: Asset, hour: datetime) -> AssetVersion:
    logged = WindowSummary.objects.filter(
        asset=model, window_start__gte=hour, window_start__lt=hour + timedelta(hours=1)
    ).values_list("version_id", flat=True)
    versions = AssetVersion.objects.filter(pk__in=set(logged))
    lineage = [(v, LineageEdge.Relation.DERIVED_FROM.value) for v in versions if not v.is_gone]
    spec = registry.VersionSpec(
        description=f"Predictions of {model.ref} logged in the hour from {hour:%Y-%m-%d %H}:00.",
        tags={"model": model.ref, "hour": f"{hour:%Y%m%dT%H}"},
        lineage=lineage,
    )
    source = registry.ArtifactSource(name="predictions", uri=hour_prefix(model.ref, hour))
    version = registry.register_version(ACTOR, _log_dataset(model), spec, [source])
    LoggedHour.objects.get_or_create(asset=model, hour=hour, defaults={"dataset_version": version})
    return version


def _log_dataset(model: Asset) -> Asset:
    name = f"{model.name}-predictions"
    try:
        return registry.get_asset(Kind.DATASET, model.team.name, name)
    except NotFound:
        description = f"The prediction log of {model.ref} (modelyard serve), one version an hour."
        return registry.create_asset(ACTOR, Kind.DATASET, model.team, name, description=description)
