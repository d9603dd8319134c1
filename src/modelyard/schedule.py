"""The whole periodic schedule in one place, written into django-celery-beat's tables.

Beat reads the schedule from the database (editable in the admin); `ensure_schedule` adds
missing entries at start-up and leaves edited ones alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    task: str
    every_seconds: float
    queue: str = "default"


def periodic_tasks() -> list[PeriodicTask]:
    tasks = [
        PeriodicTask(
            "Re-queue deletions the broker lost",
            "modelyard.registry.tasks.sweep_pending_deletions",
            600,
        ),
        PeriodicTask(
            "Lifecycle scan: notice, warn and delete unused versions",
            "modelyard.lifecycle.tasks.run_scan",
            settings.LIFECYCLE_SCAN_SECONDS,
        ),
        PeriodicTask(
            "Send lifecycle notices that are still unsent",
            "modelyard.lifecycle.tasks.send_notices",
            900,
        ),
        PeriodicTask(
            "Start queued runs within the caps; reclaim slots of runs whose worker died",
            "modelyard.jobs.tasks.dispatch_runs",
            10,
        ),
        PeriodicTask(
            "Request a run of each cron command whose scheduled time came, once per time",
            "modelyard.jobs.tasks.fire_schedules",
            10,
        ),
        PeriodicTask(
            "Evaluate the monitors of served models and react to failing ones",
            "modelyard.monitoring.tasks.evaluate_monitors",
            settings.MONITOR_EVALUATION_SECONDS,
        ),
        PeriodicTask(
            "Register finished hours of the prediction log as data set versions",
            "modelyard.monitoring.tasks.register_log_hours",
            600,
        ),
    ]
    if settings.REDIS_URL:
        tasks.append(
            PeriodicTask(
                "Write access records from Redis to the database",
                "modelyard.registry.tasks.flush_access",
                settings.ACCESS_FLUSH_SECONDS,
            )
        )
    return tasks


def ensure_schedule() -> int:
    """Create the interval schedules that do not exist yet; return how many were added."""
    from django_celery_beat.models import IntervalSchedule
    from django_celery_beat.models import PeriodicTask as BeatTask

    added = 0
    for entry in periodic_tasks():
        if BeatTask.objects.filter(name=entry.name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=max(1, round(entry.every_seconds)), period=IntervalSchedule.SECONDS
        )
        BeatTask.objects.create(
            name=entry.name, task=entry.task, interval=interval, queue=entry.queue
        )
        added += 1
    return added
