"""Background work for the registry. Tasks take ids and name their queue; the sweep retries."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from modelyard.registry import access, services
from modelyard.registry.models import AssetVersion, LifecycleState

# A deletion still `deleting` after this long was lost by the broker or a crashed worker.
STUCK_AFTER = timedelta(minutes=15)


@shared_task
def delete_version_bytes(version_id: int) -> int:
    """Delete the bytes. A failure is counted on the version with its next attempt, which
    sweep_pending_deletions makes; so what the pages say about the retry is what happens."""
    return services.delete_bytes(version_id)


@shared_task
def sweep_pending_deletions() -> int:
    """Queue every deletion whose next attempt is due, and any the broker lost."""
    now = timezone.now()
    due = Q(lifecycle_state=LifecycleState.DELETING) & (
        Q(next_deletion_attempt_at__lte=now)
        | Q(next_deletion_attempt_at__isnull=True, lifecycle_changed_at__lt=now - STUCK_AFTER)
    )
    queued = 0
    for version_id in AssetVersion.objects.filter(due).values_list("pk", flat=True):
        # Claimed, so an overlapping sweep, or the next one while the queue is long, does
        # not queue it twice; if this message is lost too, it comes round again.
        claimed = AssetVersion.objects.filter(due, pk=version_id).update(
            next_deletion_attempt_at=now + STUCK_AFTER
        )
        if claimed:
            delete_version_bytes.delay(version_id)
            queued += claimed
    return queued


@shared_task
def flush_access() -> int:
    return access.drain_redis_to_database().versions
