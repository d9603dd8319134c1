"""Monitoring's Celery tasks: thin wrappers that take ids and call the services."""

from __future__ import annotations

import smtplib

from celery import shared_task

from modelyard.monitoring import logs, mail, services, webhooks


@shared_task
def evaluate_monitors() -> int:
    return services.evaluate_all()


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=8,
)
def send_alert_mail(alert_id: int) -> int:
    return mail.send_alert_mail(alert_id)


@shared_task
def register_log_hours() -> int:
    return logs.register_finished_hours()


@shared_task(
    autoretry_for=(webhooks.WebhookFailed,),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=8,
)
def send_alert_webhooks(alert_id: int) -> int:
    return webhooks.send(alert_id)
