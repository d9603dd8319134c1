"""`notify` posts the alert to the monitor's and the team's webhooks, as Slack-compatible
JSON, by a task after the alert is committed; a receiver that fails is retried and its
error shows on the alert; webhook URLs are secrets, shown by their host only."""

from __future__ import annotations

import pytest
from django.core import mail

from modelyard.monitoring import reactions, services, webhooks
from modelyard.monitoring.models import Alert, Monitor, WebhookDelivery

pytestmark = pytest.mark.django_db
PAGE = "http://127.0.0.1:8000/models/red/churn/monitoring/"


@pytest.fixture
def monitor(teams, model, receiver) -> Monitor:
    declared = services.declare_monitor(
        teams["bob"],
        model,
        "errors",
        "errors",
        threshold=0.05,
        reactions=["notify"],
        webhook_url=f"{receiver.url}/monitor",
    )
    services.set_team_webhook(teams["alice"], teams["red"], f"{receiver.url}/team")
    return declared


def fire(monitor: Monitor) -> Alert:
    details = {"monitor": "errors", "kind": "errors", "value": 0.31, "threshold": 0.05}
    alert = Alert.objects.create(
        monitor=monitor, fired_at="2026-12-01T09:00Z", details={**details, "samples": 400}
    )
    reactions.notify(monitor, alert)
    return alert


@pytest.mark.integration
def test_a_firing_alert_posts_slack_json_to_both_webhooks_after_commit(
    monitor, receiver, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fire(monitor)
    assert receiver.posts == []  # nothing is posted inside the evaluation's transaction
    for callback in callbacks:
        callback()  # the mail and webhook tasks, run eagerly here

    posts = dict(receiver.wait_for(2))
    assert set(posts) == {"/monitor", "/team"}
    body = posts["/team"]
    assert body["text"].startswith("red/churn: monitor errors is failing. value 0.31")
    assert PAGE in body["text"]
    assert [block["type"] for block in body["blocks"]] == [
        "header",
        "section",
        "actions",
        "context",
    ]
    assert body["blocks"][2]["elements"][0]["url"] == PAGE
    assert WebhookDelivery.objects.filter(sent_at__isnull=False).count() == 2
    assert PAGE in mail.outbox[0].body  # the mail links to the same page


@pytest.mark.integration
def test_a_failing_webhook_is_retried_and_its_error_shows_on_the_alert(
    monitor, receiver, bob
) -> None:
    receiver.statuses = [503, 503]  # both fail the first time
    alert = fire(monitor)

    with pytest.raises(webhooks.WebhookFailed, match="HTTP 503"):
        webhooks.send(alert.pk)
    shown = bob.get("/models/red/churn/alerts").json()[0]["webhooks"]
    sent_later = webhooks.send(alert.pk)
    sent_again = webhooks.send(alert.pk)

    assert [(w["attempts"], w["sent_at"]) for w in shown] == [(1, None), (1, None)]
    assert shown[0]["last_error"] == "HTTP 503: no_service"
    assert shown[0]["url"] == f"{receiver.url}/…"  # the path is the secret
    assert (sent_later, sent_again) == (2, 0)
    assert len(receiver.posts) == 4


def test_webhooks_must_be_http_urls_and_only_owners_set_the_team_one(
    teams, model, alice, bob
) -> None:
    refused = bob.put(
        "/models/red/churn/monitors/errors",
        {"kind": "errors", "threshold": 0.1, "webhook_url": "file:///etc/passwd"},
    )
    member = bob.put("/teams/red/alert-webhook", {"url": "https://hooks.example.com/T1/B2/x"})
    owner = alice.put("/teams/red/alert-webhook", {"url": "https://hooks.example.com/T1/B2/x"})

    assert refused.status_code == 400
    assert "is not an http(s) URL" in refused.json()["message"]
    assert member.status_code == 403
    assert owner.json() == {"team": "red", "url": "https://hooks.example.com/…"}
