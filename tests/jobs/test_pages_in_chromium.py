"""The runs pages and the model page's gate section as a browser draws them: headless
Chromium on seeded runs and promotions.

Checks what the Django test client cannot: the stylesheets apply, the progress bar is drawn
to its share, nothing runs off the right edge (long log lines, errors, reports), the
browser reports no errors, and the Cancel button works with the page's CSRF token.
Screenshots go to MODELYARD_SCREENSHOTS (or the test's temp folder) for a person to look at.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from modelyard.deployment.gate import Check, GateReport
from modelyard.deployment.models import GateSettings, Promotion
from modelyard.jobs import projects
from modelyard.jobs.models import Command, Run, RunState
from modelyard.registry.models import AssetVersion
from tests.fixtures.chromium import needs_chromium, signed_in
from tests.jobs.conftest import spec

PAGES = {
    "runs-team": "/teams/red/runs/",
    "runs-project": "/projects/red/churn/runs/",
    "runs-all": "/runs/",
    "model-gate": "/models/red/churn/",
}

pytestmark = [
    pytest.mark.integration,
    needs_chromium,
]


def _report(candidate: str, holder: str | None, score: float, held: float | None) -> Any:
    details = {
        "metric": "roc_auc",
        "higher_is_better": True,
        "tolerance": 0.01,
        "data": "red/holdout:1",
        "rows": 569,
        "candidate_score": score,
        "holder_score": held,
    }
    passed = held is None or score >= held - 0.01
    verdict = (
        f"roc_auc {score:.4f} vs {held:.4f} for {holder} on red/holdout:1 (569 rows, "
        "tolerance 0.01)"
        if held is not None
        else f"no current holder; roc_auc {score:.4f}"
    )
    checks = [
        Check("signature", True, "the example fits the signature", {"example_rows": 3}),
        Check("champion", passed, verdict, details),
    ]
    return GateReport(candidate, "production", holder, checks).as_json()


def _seed_promotions(alice: Any, teams: dict[str, Any]) -> None:
    alice.post("/datasets", {"team": "red", "name": "holdout"})
    alice.upload("/datasets/red/holdout/versions/upload", {"data.csv": b"a,target\n1,0\n"}, {})
    alice.post("/models", {"team": "red", "name": "churn", "description": "Who leaves"})
    for n in range(3):
        alice.upload("/models/red/churn/versions/upload", {"model.joblib": b"m%d" % n}, {})
    v = {x.version: x for x in AssetVersion.objects.filter(asset__name="churn")}
    data = AssetVersion.objects.get(asset__name="holdout")
    GateSettings.objects.create(
        asset=v[1].asset, metric="roc_auc", tolerance=0.01, evaluation_data=data
    )
    rows = [
        (None, v[1], "promoted", _report("red/churn:1", None, 0.91, None), ""),
        (v[1], v[2], "refused", _report("red/churn:2", "red/churn:1", 0.8712, 0.91), ""),
        (
            v[1],
            v[3],
            "forced",
            _report("red/churn:3", "red/churn:1", 0.89, 0.91),
            "the holdout set is stale; the Q4 sample agrees with the new model",
        ),
        (
            v[3],
            v[1],
            "rolled_back",
            {"rolled_back_from": "red/churn:3", "rolled_back_to": "red/churn:1"},
            "alert: error rate",
        ),
    ]
    for before, after, outcome, report, reason in rows:
        Promotion.objects.create(
            asset=v[1].asset,
            alias="production",
            from_version=before,
            to_version=after,
            outcome=outcome,
            report=report,
            reason=reason,
            actor=teams["alice"],
        )


def _seed_runs(teams: dict[str, Any]) -> None:
    projects.apply(teams["alice"], spec("train:\n  entry: ok\nscore:\n  entry: ok"))
    train, score = (Command.objects.get(name=name) for name in ("train", "score"))
    now = timezone.now()
    long_line = "WARNING " + "x" * 400  # must wrap, not widen the page
    common = {"team_id": train.project.team_id}
    Run.objects.create(
        command=score,
        **common,
        reason="event",
        events=12,
        state=RunState.RUNNING,
        attempt=1,
        max_attempts=3,
        started_at=now - timedelta(minutes=4),
        progress_done=1_250_000,
        progress_total=4_000_000,
        worker="runs@node-1",
        logs="\n".join([f"scored part {n}" for n in range(40)] + [long_line]),
    )
    Run.objects.create(
        command=train,
        **common,
        reason="manual",
        state=RunState.FAILED,
        attempt=2,
        max_attempts=2,
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2) + timedelta(seconds=95),
        exit_code=1,
        error="ValueError: the input has no rows in s3://lake/red/customers/2026-11-30/",
        logs='Traceback (most recent call last):\n  File "train.py", line 3\n'
        "ValueError: the input has no rows",
    )
    Run.objects.create(
        command=train,
        **common,
        reason="cron",
        state=RunState.SUCCEEDED,
        attempt=1,
        started_at=now - timedelta(days=1),
        finished_at=now - timedelta(days=1, seconds=-30),
        progress_done=10,
        progress_total=10,
        outputs=["red/churn:3", "red/churn:2"],
        logs="trained\n",
    )
    Run.objects.create(
        command=train, **common, reason="event", state=RunState.QUEUED, max_attempts=1
    )


@pytest.fixture
def seeded(alice, transactional_db: None, artifact_root: Path, teams: dict[str, Any]) -> None:
    _seed_promotions(alice, teams)
    _seed_runs(teams)


def test_runs_and_gate_pages_render_styled_and_fit(
    seeded, live_server, teams: dict[str, Any], tmp_path: Path, monkeypatch, settings
) -> None:
    settings.RUN_EXECUTOR = "tests.jobs.fakes.RecordingExecutor"
    with signed_in(live_server, tmp_path, monkeypatch) as browser:
        for name, path in PAGES.items():
            browser.check(name, path)
        page = browser.page
        _check_gate_section(page)
        page.goto(f"{live_server.url}/teams/red/runs/")
        _check_progress_bar(page)
        page.once("dialog", lambda dialog: dialog.accept())
        queued = page.locator("li.run:has(.badge.run-queued)")
        queued.locator("button", has_text="Cancel").click()
        page.wait_for_selector(".message-success")
        browser.shot("runs-after-cancel")
        assert "Asked run" in page.inner_text(".messages")
        assert page.locator("li.run .badge", has_text="Cancelled").count() == 1
    assert browser.errors == []


def _check_progress_bar(page: Any) -> None:
    """The running run's bar is drawn to its share of the track (1.25 M of 4 M)."""
    share = page.eval_on_selector(
        "li.run:has(.badge.run-running) .progress",
        "e => e.firstElementChild.getBoundingClientRect().width / e.getBoundingClientRect().width",
    )
    assert 0.28 < share < 0.35, share
    colour = page.eval_on_selector(".badge.run-running", "e => getComputedStyle(e).color")
    assert colour == "rgb(31, 67, 168)", "runs.css did not apply"


def _check_gate_section(page: Any) -> None:
    forced = page.locator("li.promotion.outcome-forced")
    assert "Forced past the gate by alice" in forced.inner_text()
    border = forced.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert border == "rgb(217, 119, 6)", "gate.css did not apply"
