"""Background work for the registry. Tasks take ids, name their queue, retry only transients."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from modelyard import storage
from modelyard.registry import access, services
from modelyard.registry.models import AssetVersion, LifecycleState

# A deletion still `deleting` after this long was lost by the broker or a crashed worker.
STUCK_AFTER = timedelta(minutes=15)


@shared_task(
    autoretry_for=(storage.StoreUnavailable,),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=10,
)
def delete_version_bytes(version_id: int) -> int:
    return services.delete_bytes(version_id)


@shared_task
def sweep_pending_deletions() -> int:
    cutoff = timezone.now() - STUCK_AFTER
    stuck = AssetVersion.objects.filter(
        lifecycle_state=LifecycleState.DELETING, lifecycle_changed_at__lt=cutoff
    ).values_list("pk", flat=True)
    for version_id in stuck:
        delete_version_bytes.delay(version_id)
    return len(stuck)


@shared_task
def flush_access() -> int:
    return access.drain_redis_to_database().versions
