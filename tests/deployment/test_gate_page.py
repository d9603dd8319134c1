"""The model page's gate section and the admin's gate settings, promotions, projects and
runs: what was checked, the metric against the champion's, who forced, rollbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from modelyard.deployment.gate import Check, GateReport
from modelyard.deployment.models import GateSettings, Promotion
from modelyard.jobs import projects
from modelyard.jobs.models import Command, Project, Run
from modelyard.registry.models import AssetVersion
from tests.jobs.conftest import spec

pytestmark = pytest.mark.django_db

MODEL_PAGE = "/models/red/churn/"


def champion_report(candidate: str, holder: str | None, score: float, held: float | None) -> Any:
    details = {
        "metric": "roc_auc",
        "higher_is_better": True,
        "tolerance": 0.01,
        "data": "red/holdout:1",
        "rows": 569,
        "candidate_score": score,
        "holder_score": held,
    }
    signature = Check("signature", True, "the example fits the signature", {"example_rows": 3})
    passed = held is None or score >= held - 0.01
    verdict = f"roc_auc {score:.4f} vs {held}" if held else f"no current holder; roc_auc {score}"
    checks = [signature, Check("champion", passed, verdict, details)]
    return GateReport(candidate, "production", holder, checks).as_json()


@pytest.fixture
def history(alice, teams, artifact_root: Path) -> dict[str, Any]:
    """v1 promoted, v2 refused, v3 forced by alice, then rolled back to v1."""
    alice.post("/datasets", {"team": "red", "name": "holdout"})
    alice.upload("/datasets/red/holdout/versions/upload", {"data.csv": b"a,target\n1,0\n"}, {})
    alice.post("/models", {"team": "red", "name": "churn"})
    for n in range(3):
        alice.upload("/models/red/churn/versions/upload", {"model.joblib": b"m%d" % n}, {})
    v = {x.version: x for x in AssetVersion.objects.filter(asset__name="churn")}
    asset = v[1].asset
    data = AssetVersion.objects.get(asset__name="holdout")
    GateSettings.objects.create(asset=asset, metric="roc_auc", tolerance=0.01, evaluation_data=data)
    made = [
        (None, v[1], "promoted", champion_report("red/churn:1", None, 0.91, None), ""),
        (v[1], v[2], "refused", champion_report("red/churn:2", "red/churn:1", 0.8712, 0.91), ""),
        (
            v[1],
            v[3],
            "forced",
            champion_report("red/churn:3", "red/churn:1", 0.89, 0.91),
            "the holdout set is stale; Q4 data agrees",
        ),
        (
            v[3],
            v[1],
            "rolled_back",
            {"rolled_back_from": "red/churn:3", "rolled_back_to": "red/churn:1"},
            "alert",
        ),
    ]
    for before, after, outcome, report, reason in made:
        Promotion.objects.create(
            asset=asset,
            alias="production",
            from_version=before,
            to_version=after,
            outcome=outcome,
            report=report,
            reason=reason,
            actor=teams["alice"],
        )
    return v


def page(user: Any, path: str = MODEL_PAGE) -> str:
    client = Client()
    client.force_login(user)
    answer = client.get(path)
    assert answer.status_code == 200, path
    return answer.content.decode()


def test_model_page_shows_the_gate_settings(history, teams) -> None:
    body = page(teams["mallory"])  # any signed-in user reads it
    assert "Promotion gate" in body
    assert "<code>roc_auc</code>" in body
    assert "<dd>0.01</dd>" in body
    assert '<a href="/datasets/red/holdout/1/">red/holdout:1</a>' in body
    assert "<code>target</code>" in body


def test_model_page_reads_each_promotion_report(history, teams) -> None:
    body = page(teams["bob"])
    assert body.count('class="promotion panel') == 4
    # Newest first: the rollback, then the forced promotion with who and why.
    assert body.index("Rolled back") < body.index("Forced past the gate") < body.index("Refused")
    assert "Returned production from red/churn:3 to red/churn:1." in body
    assert "Forced past the gate by <strong>alice</strong>: “the holdout set is stale" in body
    # The metric against the champion's, with the direction, tolerance and data.
    assert "<strong>0.8712</strong>" in body
    assert "vs champion <strong>0.91</strong>" in body
    assert "worse by 0.0388, more than the tolerance" in body  # refused
    assert "worse by 0.02, more than the tolerance" in body  # forced past it
    assert "higher is better, tolerance 0.01, on red/holdout:1, 569 rows" in body
    assert "(no champion to compare with)" in body
    assert "✗</span> <strong>champion</strong>" in body
    assert "example rows: 3" in body


def test_a_model_without_gate_or_history_says_what_to_do(alice, teams, artifact_root) -> None:
    alice.post("/models", {"team": "red", "name": "fresh"})
    body = page(teams["bob"], "/models/red/fresh/")
    assert "No gate settings" in body
    assert "modelyard gate red/fresh --evaluate-on" in body
    assert "Never promoted" in body
    assert "modelyard promote red/fresh VERSION" in body


def test_data_sets_have_no_gate_section(history, teams) -> None:
    assert "Promotion gate" not in page(teams["bob"], "/datasets/red/holdout/")


def test_the_model_page_query_count_does_not_grow_with_history(
    history, teams, django_assert_max_num_queries
) -> None:
    client = Client()
    client.force_login(teams["bob"])
    with django_assert_max_num_queries(14):
        client.get(MODEL_PAGE)


@pytest.fixture
def staff(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_admin_shows_gate_promotions_projects_and_runs_read_only(
    history, staff: Client, teams
) -> None:
    projects.apply(teams["alice"], spec("train:\n  entry: ok"))
    command = Command.objects.get(name="train")
    run = Run.objects.create(command=command, team_id=command.project.team_id, reason="manual")
    forced = Promotion.objects.get(outcome="forced")
    for path in (
        "/admin/deployment/promotion/",
        "/admin/deployment/gatesettings/",
        f"/admin/deployment/gatesettings/{GateSettings.objects.get().pk}/change/",
        "/admin/jobs/run/",
        f"/admin/jobs/run/{run.pk}/change/",
        f"/admin/jobs/project/{Project.objects.get().pk}/change/",
    ):
        assert staff.get(path).status_code == 200, path
    detail = staff.get(f"/admin/deployment/promotion/{forced.pk}/change/").content.decode()
    assert "✗ <strong>champion</strong>: roc_auc 0.8900 vs 0.91" in detail
    assert 'name="_save"' not in detail  # nothing to save: a record of what happened
    for path in ("/admin/deployment/promotion/add/", "/admin/jobs/run/add/"):
        assert staff.get(path).status_code == 403, path
    staff.post("/admin/jobs/run/", {"action": "cancel_runs", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.state == "cancelled"
