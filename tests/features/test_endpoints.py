"""Pushing raw events over HTTP (members only, all or nothing) and reading online features
(anyone signed in)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from modelyard.audit.models import AuditEvent
from modelyard.features.models import SeenEvent, Tile

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)
EVENTS = "/features/red/sources/clicks/events"


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def views(applied: Any) -> Any:
    return applied()


def click(
    event_id: str, user_id: int = 42, minute: int = 10, amount: float = 5.0, page: str = "home"
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_id": user_id,
        "amount": amount,
        "page": page,
        "ts": f"2026-12-01T11:{minute:02d}:00Z",
    }


def log_files(root: Path) -> list[Path]:
    return sorted(root.glob("red/features/clicks/date=*/part-*.parquet"))


def test_a_member_pushes_events_and_anyone_signed_in_reads_them(
    views, bob, mallory, artifact_root
) -> None:
    pushed = bob.post(EVENTS, [click("a"), click("b", minute=20, amount=7.5, page="checkout")])

    assert pushed.status_code == 200, pushed.json()
    assert pushed.json() == {"accepted": 2, "duplicates": 0}
    online = mallory.get("/features/red/user_activity/online", user_id=42)
    assert online.status_code == 200, online.json()
    body = online.json()
    assert body["results"][0]["entity"] == {"user_id": 42}
    features = body["results"][0]["features"]
    assert (features["clicks_1h"], features["spend_7d"], features["last_page"]) == (
        2,
        12.5,
        "checkout",
    )
    assert features["spend_per_click_7d"] == 6.25
    assert body["version"] == 1
    assert body["freshness_seconds"] == pytest.approx(40 * 60 + 30)
    assert [p.parent.name for p in log_files(artifact_root)] == ["date=2026-12-01"]


def test_ndjson_is_accepted(views, bob, artifact_root) -> None:
    body = "\n".join(json.dumps(click(str(n), minute=n)) for n in range(3)) + "\n"

    response = bob.client.post(f"/api/v1{EVENTS}", body, content_type="application/x-ndjson")

    assert response.json() == {"accepted": 3, "duplicates": 0}


def test_a_bad_row_refuses_the_whole_batch_naming_row_and_field(views, bob, artifact_root) -> None:
    bad = click("c")
    bad["amount"] = "lots"

    response = bob.post(EVENTS, [click("a"), click("b"), bad])

    assert response.status_code == 422
    assert response.json()["message"].startswith(
        "Row 2: field 'amount': 'lots' is not a valid float."
    )
    assert response.json()["row"] == 2
    assert not Tile.objects.exists()
    assert not SeenEvent.objects.exists()
    assert log_files(artifact_root) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "Row 0: field 'colour' is not in the source's schema"),
        ({"user_id": None}, "Row 0: field 'user_id' is missing or null"),
        ({"user_id": True}, "Row 0: field 'user_id': True is not a valid int."),
        ({"ts": "yesterday"}, "Row 0: field 'ts': 'yesterday' is not a valid timestamp."),
    ],
)
def test_each_kind_of_bad_field_is_named(views, bob, change, message, artifact_root) -> None:
    response = bob.post(EVENTS, [{**click("a"), **change}])

    assert response.status_code == 422
    assert response.json()["message"].startswith(message)


def test_late_events_within_lateness_are_accepted_later_ones_refused(
    views, bob, artifact_root
) -> None:
    within = {**click("a"), "ts": "2026-12-01T10:01:00Z"}  # about two hours ago: lateness 2h
    too_late = {**click("b"), "ts": "2026-12-01T09:59:00Z"}

    assert bob.post(EVENTS, [within]).json() == {"accepted": 1, "duplicates": 0}
    response = bob.post(EVENTS, [click("c"), too_late])

    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("Row 1: field 'ts': 2026-12-01T09:59:00+00:00 is later than")
    assert "lateness: 7200 s" in message
    assert SeenEvent.objects.count() == 1


def test_events_sent_twice_count_once(views, bob, alice, artifact_root) -> None:
    bob.post(EVENTS, [click("a"), click("b")])

    response = bob.post(EVENTS, [click("b"), click("c"), click("c")])

    assert response.json() == {"accepted": 1, "duplicates": 2}
    online = alice.get("/features/red/user_activity/online", user_id=42).json()
    assert online["results"][0]["features"]["clicks_1h"] == 3


def test_a_member_of_another_team_cannot_push(views, carol, mallory, artifact_root) -> None:
    for outsider in (carol, mallory):
        response = outsider.post(EVENTS, [click("a")])

        assert response.status_code == 403
        assert "not a member of team 'red'" in response.json()["message"]
    assert AuditEvent.objects.filter(action="access.denied").count() == 2
    assert not SeenEvent.objects.exists()


def test_signed_out_callers_neither_push_nor_read(views, anonymous, artifact_root) -> None:
    assert anonymous.post(EVENTS, [click("a")]).status_code == 401
    assert anonymous.get("/features/red/user_activity/online", user_id=42).status_code == 401


def test_many_entities_at_once_and_a_filtered_view(views, bob, carol, artifact_root) -> None:
    bob.post(
        EVENTS,
        [
            click("a", page="checkout"),
            click("b", user_id=7),
            click("c", page="checkout", amount=2.0),
        ],
    )

    response = carol.post(
        "/features/red/purchases/online",
        {"entities": [{"user_id": 42}, {"user_id": 7}, {"user_id": 1}]},
    )

    assert response.status_code == 200, response.json()
    assert [r["features"] for r in response.json()["results"]] == [
        {"purchases_90m": 2, "purchase_spend": 7.0},
        {"purchases_90m": 0, "purchase_spend": 0.0},
        {"purchases_90m": 0, "purchase_spend": 0.0},
    ]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/features/red/user_activity/online", {}, 422, "Entity key 'user_id' is missing"),
        ("/features/red/user_activity/online", {"user_id": "x"}, 422, "'x' is not a valid int"),
        ("/features/red/user_activity/online", {"user_id": "--5"}, 422, "is not a valid int"),
        ("/features/red/nothing/online", {"user_id": 1}, 404, "No feature view red/nothing"),
    ],
)
def test_bad_reads_say_what_is_wrong(views, mallory, path, params, status, message) -> None:
    response = mallory.get(path, **params)

    assert response.status_code == status
    assert message in response.json()["message"]


def test_pushing_to_an_unknown_source_is_404(views, bob) -> None:
    response = bob.post("/features/red/sources/nothing/events", [click("a")])

    assert response.status_code == 404
    assert "modelyard apply" in response.json()["message"]


def test_events_after_a_view_changes_and_before_it_rebuild_its_tiles(
    views, applied, bob, mallory, artifact_root
) -> None:
    from tests.features.conftest import FEATURES, project

    bob.post(EVENTS, [click("a", page="checkout", amount=3.0)])
    applied(project(FEATURES.replace("filter: page == 'checkout'", "filter: amount > 2.5")))
    bob.post(EVENTS, [click("b", amount=2.0), click("c", amount=4.0)])

    online = mallory.get("/features/red/purchases/online", user_id=42).json()

    assert online["version"] == 2
    assert online["results"][0]["features"] == {"purchases_90m": 2, "purchase_spend": 7.0}


def test_a_source_with_events_keeps_its_schema(views, applied, alice, bob, artifact_root) -> None:
    from tests.features.conftest import FEATURES, project

    changed = project(FEATURES.replace("page: string, ts", "page: string, device: string, ts"))
    assert alice.post("/projects/apply", {"source": changed, "dry_run": True}).status_code == 200
    bob.post(EVENTS, [click("a")])

    response = alice.post("/projects/apply", {"source": changed})

    assert response.status_code == 400
    assert "already has events" in response.json()["message"]


def test_an_overlong_entity_key_is_refused(applied, bob, artifact_root) -> None:
    from tests.features.conftest import FEATURES, project

    applied(project(FEATURES.replace("user_id: int, amount", "user_id: string, amount")))

    response = bob.post(EVENTS, [{**click("a"), "user_id": "u" * 101}])

    assert response.status_code == 422
    assert "Row 0: field 'user_id' is an entity key longer than 100" in response.json()["message"]


def test_a_view_put_back_counts_the_events_sent_while_it_was_removed(
    views, applied, bob, mallory, artifact_root
) -> None:
    from tests.features.conftest import FEATURES, project

    bob.post(EVENTS, [click("a", page="checkout")])
    applied(project(FEATURES[: FEATURES.index("    purchases:")]))
    bob.post(EVENTS, [click("b", page="checkout")])
    applied(project())

    online = mallory.get("/features/red/purchases/online", user_id=42).json()

    assert online["version"] == 1
    assert online["results"][0]["features"]["purchases_90m"] == 2


def test_the_catalog_shows_a_views_version_features_and_freshness(views, bob, mallory) -> None:
    bob.post(EVENTS, [click("a", minute=50)])

    response = mallory.get("/features/red/purchases")

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "view": "red/purchases",
        "version": 1,
        "source": "clicks",
        "features": ["purchases_90m", "purchase_spend"],
        "newest_event_at": "2026-12-01T11:50:00Z",
        "freshness_seconds": 630.0,
    }
