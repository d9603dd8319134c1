"""`modelyard monitor add | status | alerts | ack | feedback` against a live server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from modelyard.monitoring import services
from modelyard.monitoring.models import Feedback, WindowSummary
from modelyard.registry import services as registry
from modelyard.registry.models import Alias, Kind
from tests.fixtures.cli import Cli
from tests.fixtures.models import _bytes


def failing_errors_monitor(cli: Cli) -> int:
    cli(
        "monitor",
        "add",
        "red/churn",
        "errors",
        "--kind",
        "errors",
        "--threshold",
        "0.1",
        "--min-samples",
        "10",
        "--react",
        "notify",
        user="bob",
    )
    model = registry.get_asset(Kind.MODEL, "red", "churn")
    version = registry.register_version(
        cli.users["alice"], model, registry.VersionSpec(), [_bytes("model.bin", b"x")]
    )
    Alias.objects.create(asset=model, name="production", version=version)
    WindowSummary.objects.create(
        asset=model, version=version, window_start=datetime.now(UTC), requests=20, server_errors=8
    )
    return services.evaluate(model.monitors.get().pk).pk


def test_status_alerts_and_ack(cli: Cli, model) -> None:
    failing_errors_monitor(cli)

    status = cli("monitor", "status", "red/churn").stdout
    alerts = cli.json("monitor", "alerts", "red/churn", "--state", "firing")
    refused = cli.fails("monitor", "ack", str(alerts[0]["id"]), user="mallory")
    acked = cli.json("monitor", "ack", str(alerts[0]["id"]), user="bob")

    assert "errors (errors @production): failing, value 0.4" in status
    assert f"ALERT {alerts[0]['id']} firing" in status
    assert "member" in refused
    assert acked["state"] == "acknowledged"
    assert cli.json("monitor", "status", "red/churn")[0]["alert"]["state"] == "acknowledged"


def test_feedback_from_a_file(cli: Cli, model, tmp_path) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"r1": 1, "r2": 0}))
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2]")

    said = cli("monitor", "feedback", "red/churn", str(labels), user="bob").stdout
    refused = cli.fails("monitor", "feedback", "red/churn", str(broken), user="bob")

    assert "2 label(s) sent" in said
    assert "holds no JSON object" in refused
    assert Feedback.objects.count() == 2


def test_entity_keys_and_feedback_by_entity_from_a_csv_file(cli: Cli, model, tmp_path) -> None:
    signature = {"inputs": [{"name": "customer", "type": "int"}, {"name": "x", "type": "double"}]}
    registry.register_version(
        cli.users["alice"],
        model,
        registry.VersionSpec(signature=signature),
        [_bytes("model.bin", b"x")],
    )
    labels = tmp_path / "labels.csv"
    labels.write_text("customer,time,label\n42,2026-12-01T10:05:00Z,1\n7,2026-12-01T10:06:00Z,0\n")

    refused = cli.fails("monitor", "feedback", "red/churn", str(labels), user="bob")
    named = cli.json("monitor", "log", "red/churn", "--entity-key", "customer", user="bob")
    sent = cli.json("monitor", "feedback", "red/churn", str(labels), user="bob")

    assert "no entity keys" in refused
    assert named["entity_keys"] == ["customer"]
    assert sent == {"received": 2}
    assert dict(Feedback.objects.values_list("entity", "label")) == {
        "customer=42": 1,
        "customer=7": 0,
    }
