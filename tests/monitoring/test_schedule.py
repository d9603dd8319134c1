"""Beat evaluates the monitors and registers the log's hours: both are in the one schedule,
at the configured interval, and name tasks that exist."""

from __future__ import annotations

import importlib

from modelyard.schedule import periodic_tasks


def test_the_schedule_evaluates_monitors_at_the_configured_interval(settings) -> None:
    settings.MONITOR_EVALUATION_SECONDS = 30
    entries = {entry.task: entry for entry in periodic_tasks()}

    evaluate = entries["modelyard.monitoring.tasks.evaluate_monitors"]
    assert evaluate.every_seconds == 30
    assert "modelyard.monitoring.tasks.register_log_hours" in entries
    for name in ("evaluate_monitors", "register_log_hours"):
        module = importlib.import_module("modelyard.monitoring.tasks")
        assert getattr(module, name).name == f"modelyard.monitoring.tasks.{name}"
