"""Cron commands: every scheduled local time requests one run, once.

Beat runs `fire_schedules` every few seconds (modelyard/schedule.py); it fires every
command whose `next_fire_at` has come. The due instants are computed here, with `zoneinfo`
(jobs/cron.py), not by the scheduler's own arithmetic, and each fired instant is a
`Firing` row unique per command and instant, written in the transaction that requests
the run: however often beat starts, restarts or looks, and whatever the time zone does,
one scheduled time is one request.

An instant missed while beat was stopped fires once when it comes back (the latest one
missed; older ones are skipped, as cron skips them). A schedule applied or changed is
due from its next instant on.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from modelyard.jobs.cron import Cron
from modelyard.jobs.models import Command, Firing
from modelyard.jobs.services import absorb


def arm(command: Command, now: datetime | None = None) -> None:
    """Set the command's next due instant from its schedule (none if it has none)."""
    command.next_fire_at = _next(command, now or timezone.now())
    command.save(update_fields=["next_fire_at"])


def fire_due(now: datetime | None = None) -> int:
    """Fire every command whose time has come; return how many runs were requested."""
    now = now or timezone.now()
    due = Q(next_fire_at__lte=now) | Q(next_fire_at__isnull=True)
    commands = Command.objects.filter(due, active=True).exclude(schedule="")
    return sum(_fire(command, now) for command in commands.select_related("project__team"))


def _next(command: Command, now: datetime) -> datetime | None:
    if not command.active or not command.schedule:
        return None
    return Cron.parse(command.schedule, command.project.timezone).next_after(now)


@transaction.atomic
def _fire(command: Command, now: datetime) -> int:
    was = command.next_fire_at
    # Claim: of two processes looking at once, one moves the command on, the other stops.
    claimed = Command.objects.filter(pk=command.pk, next_fire_at=was).update(
        next_fire_at=_next(command, now)
    )
    if not claimed or was is None:
        return 0  # someone else fired it; or it was not armed yet (rows older than firing)
    cron = Cron.parse(command.schedule, command.project.timezone)
    instant = cron.last_at_or_before(now)
    if instant is None or instant < was:
        return 0
    try:
        with transaction.atomic():
            Firing.objects.create(command=command, scheduled_for=instant)
    except IntegrityError:
        return 0  # this instant fired already
    trigger = {"event": "schedule", "schedule": command.schedule, "at": instant.isoformat()}
    absorb(command, "cron", trigger)
    return 1
