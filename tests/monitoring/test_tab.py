"""The monitoring tab of a model's page: two hours of history drawn as server-side SVG for
anyone signed in, and the Acknowledge button that only the team's members get and may use."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from django.test import Client

from modelyard.monitoring.models import Alert

pytestmark = pytest.mark.django_db
URL = "/models/red/churn/monitoring/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_tab_draws_the_history_and_members_acknowledge_its_firing_alert(history, teams) -> None:
    page = signed_in(teams["mallory"]).get(URL, {"range": "6h"})

    html = page.content.decode()
    assert page.status_code == 200
    charts = html.count('<svg class="chart"')
    assert charts == 6  # traffic, errors, latency, drift, live metric, alert timeline
    for svg in html.split('<svg class="chart"')[1:]:
        # Our own markup, not untrusted input: parsing proves each chart is well-formed XML.
        ElementTree.fromstring('<svg class="chart"' + svg.split("</svg>")[0] + "</svg>")  # noqa: S314
    assert "Drift per feature (PSI) · inputs" in html
    assert ">v1<" in html  # traffic by version: the rollback shows
    assert ">v2<" in html
    assert 'drifted: <span class="mono">f0, f3</span>' in html
    assert "Acknowledge" not in html  # mallory is on no team
    states = dict(Alert.objects.values_list("monitor__name", "state"))
    assert states == {"inputs": "resolved", "errors": "resolved", "auc": "firing"}
    # One fixture, two checks: the history costs two promotions through the gate.
    firing = Alert.objects.get(state="firing")
    action = f"{URL}alerts/{firing.pk}/acknowledge/"
    bob = signed_in(teams["bob"])
    assert "Acknowledge" in bob.get(URL).content.decode()

    refused = signed_in(teams["carol"]).post(action, follow=True)
    done = bob.post(action, follow=True)

    assert "You are not a member of team &#x27;red&#x27;" in refused.content.decode()
    assert f"Alert {firing.pk} (auc) is acknowledged." in done.content.decode()
    firing.refresh_from_db()
    assert (firing.state, firing.acknowledged_by) == ("acknowledged", teams["bob"])


def test_a_model_without_monitors_says_how_to_declare_one(teams, model) -> None:
    html = signed_in(teams["bob"]).get(URL).content.decode()

    assert "modelyard monitor add red/churn NAME" in html
    assert "Nothing logged in the last 24h" in html


def test_only_models_have_the_tab(teams, evaluation_data) -> None:
    assert signed_in(teams["bob"]).get("/models/red/holdout/monitoring/").status_code == 404
