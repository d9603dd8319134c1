"""`monitors:` in modelyard.yaml: applied with the rest of the file, as a diff, with dry
runs, problems reported with their lines; a monitor removed from the file is deleted, one
declared through the API is left alone."""

from __future__ import annotations

import pytest

from modelyard.monitoring import services
from modelyard.monitoring.models import Monitor

pytestmark = pytest.mark.django_db
HEAD = "project: watch\nteam: red\n"
FIRST = (
    HEAD
    + """monitors:
  churn:
    errors:
      kind: errors
      threshold: 0.05
      window: 10m
      min_samples: 50
      reactions: [notify]
    slow:
      kind: latency
      threshold: 250
"""
)


def apply(api, text: str, dry_run: bool = False):
    return api.post("/projects/apply", {"source": text, "dry_run": dry_run})


def test_monitors_are_applied_as_a_diff(bob, teams, model) -> None:
    services.declare_monitor(teams["bob"], model, "by-hand", "traffic", threshold=1)
    dry = apply(bob, FIRST, dry_run=True)
    nothing_yet = Monitor.objects.filter(project="watch").count()
    first = apply(bob, FIRST)
    again = apply(bob, FIRST)
    changed = apply(bob, FIRST.replace("0.05", "0.1").split("    slow:")[0])

    assert dry.json()["changes"] == [
        "+ project red/watch",
        "+ monitor churn/errors (errors)",
        "+ monitor churn/slow (latency)",
    ]
    assert nothing_yet == 0
    assert first.json()["changes"] == dry.json()["changes"]
    assert again.json()["changes"] == []
    assert changed.json()["changes"] == [
        "~ monitor churn/errors.threshold: 0.05 -> 0.1",
        "- monitor churn/slow",
    ]
    errors = Monitor.objects.get(name="errors")
    assert (errors.threshold, errors.window_seconds, errors.min_samples) == (0.1, 600, 50)
    assert (errors.reactions, errors.project) == (["notify"], "watch")
    assert sorted(Monitor.objects.values_list("name", flat=True)) == ["by-hand", "errors"]


def test_problems_are_reported_with_their_lines(bob, model) -> None:
    text = (
        HEAD
        + """monitors:
  churn:
    a:
      kind: psi
      threshold: 0.2
    b:
      kind: drift
      threshold: -1
      windows: 1h
    c:
      kind: errors
      threshold: 0.1
      reactions: [page]
"""
    )

    response = apply(bob, text)

    problems = response.json()["problems"]
    assert response.status_code == 400
    assert problems[0].startswith("line 6: monitor churn/a: kind 'psi' is not one of drift")
    assert any(p.startswith("line 11: unknown key 'windows'") for p in problems)
    assert any(p.startswith("line 10: monitor churn/b: threshold must be") for p in problems)
    assert any(p.startswith("line 15: monitor churn/c: reactions must be") for p in problems)
    assert not Monitor.objects.exists()


def test_a_monitor_of_a_model_that_does_not_exist_is_refused_with_its_line(bob, teams) -> None:
    response = apply(bob, FIRST)

    assert response.status_code == 400
    assert response.json()["message"].startswith("line 6: no model red/churn to monitor")
