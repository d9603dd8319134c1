"""Posting a firing alert to webhooks: the monitor's own and its team's, as Slack-compatible
JSON (`text` for any receiver, `blocks` for Slack's layout; Mattermost and Teams' Slack
connectors read the same). One ledger row per alert and URL: a delivery is posted by a
worker task after the alert is committed, never inside the evaluation, and retried with
backoff; its attempts and last error show on the alert (API and monitoring tab)."""

from __future__ import annotations

from typing import Any

import httpx
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from modelyard.lib.errors import InvalidInput
from modelyard.lib.tasks import enqueue
from modelyard.monitoring.mail import page_link
from modelyard.monitoring.models import Alert, Monitor, TeamAlerting, WebhookDelivery

SEND_ALERT_WEBHOOKS = "modelyard.monitoring.tasks.send_alert_webhooks"
TIMEOUT_SECONDS = 10.0


class WebhookFailed(Exception):
    """A webhook did not answer 2xx; the task retries the deliveries still unsent."""


def check_url(url: str) -> str:
    """'' (no webhook) or an http(s) URL with a host; anything else is refused."""
    url = url.strip()
    if url and not (_scheme(url) in ("http", "https") and httpx.URL(url).host):
        raise InvalidInput(
            f"The webhook {shown(url)!r} is not an http(s) URL; give the receiver's URL, "
            "e.g. https://hooks.slack.com/services/…"
        )
    return url


def _scheme(url: str) -> str:
    try:
        return httpx.URL(url).scheme
    except httpx.InvalidURL:
        return ""


def shown(url: str) -> str:
    """A webhook URL as it is shown to anyone who reads monitors: its path is the secret
    (whoever has a Slack webhook URL can post to the channel), so only the host is kept."""
    if not url:
        return ""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "…"
    return f"{parsed.scheme}://{parsed.netloc.decode()}/…"


def urls_for(monitor: Monitor) -> list[str]:
    team = TeamAlerting.objects.filter(team_id=monitor.asset.team_id).first()
    urls = [monitor.webhook_url, team.webhook_url if team else ""]
    return list(dict.fromkeys(url for url in urls if url))


def queue(monitor: Monitor, alert: Alert) -> None:
    urls = urls_for(monitor)
    if not urls:
        return
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(alert=alert, url=url) for url in urls], ignore_conflicts=True
    )
    transaction.on_commit(lambda: enqueue(SEND_ALERT_WEBHOOKS, alert.pk))


def send(alert_id: int) -> int:
    """Post the alert to each webhook not yet sent; raise WebhookFailed if any failed (after
    trying them all, so one broken receiver does not hold the others back)."""
    alert = Alert.objects.select_related("monitor__asset__team").get(pk=alert_id)
    body = payload(alert)
    sent, failures = 0, []
    for delivery in WebhookDelivery.objects.filter(alert=alert, sent_at__isnull=True):
        error = _post(delivery.url, body)
        if error:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                attempts=F("attempts") + 1, last_error=error[:2000]
            )
            failures.append(f"{delivery.url}: {error}")
            continue
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=F("attempts") + 1, sent_at=timezone.now(), last_error=""
        )
        sent += 1
    if failures:
        raise WebhookFailed("; ".join(failures))
    return sent


def _post(url: str, body: dict[str, Any]) -> str:
    """'' when the receiver took it, else what went wrong."""
    try:
        response = httpx.post(url, json=body, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as error:  # the message may quote the URL: keep its secret out
        return f"{type(error).__name__}: {error}".replace(url, shown(url))
    if not response.is_success:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    return ""


def payload(alert: Alert) -> dict[str, Any]:
    monitor = alert.monitor
    model = monitor.asset.ref
    link = page_link(monitor.asset)
    title = f"{model}: monitor {monitor.name} is failing"
    facts = [f"*{monitor.kind}* on `{model}@{monitor.alias}`: {_value_line(alert)}"]
    if alert.details.get("drifted"):
        facts.append(f"Drifted features: {', '.join(alert.details['drifted'])}")
    if alert.rolled_back_at and not alert.rollback_error:
        facts.append(f"The alias `{monitor.alias}` was rolled back to the version before.")
    elif alert.rollback_error:
        facts.append(f"Rolling back failed: {alert.rollback_error}")
    return {
        "text": f"{title}. {_value_line(alert)}. {link}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the monitoring page"},
                        "url": link,
                    }
                ],
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Alert {alert.pk} · `modelyard monitor ack {alert.pk}`",
                    }
                ],
            },
        ],
    }


def _value_line(alert: Alert) -> str:
    details = alert.details
    value = details.get("value")
    shown = "no value" if value is None else f"{value:.4g}"
    threshold, samples = details.get("threshold"), details.get("samples")
    return f"value {shown} against threshold {threshold}, {samples} samples"
