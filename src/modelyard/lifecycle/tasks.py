"""Lifecycle background work: the periodic scan and sending the notices it planned."""

from __future__ import annotations

import smtplib

from celery import shared_task

from modelyard.lifecycle import notify
from modelyard.lifecycle.scan import scan


@shared_task
def run_scan() -> dict[str, int]:
    """Plan and apply due steps from the database alone, then send what is unsent.

    Everything is re-derived from the rows, so a flushed or restarted broker loses nothing:
    the next scan finds the same work.
    """
    result = scan()
    send_notices.delay()
    return {str(action): count for action, count in result.applied.items()}


@shared_task(
    autoretry_for=(notify.DeliveryFailed, smtplib.SMTPException, OSError),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=24,
)
def send_notices() -> int:
    return notify.send_pending().emails
