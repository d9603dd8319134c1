"""Applying modelyard.yaml: a diff, dry runs, each schedule's next instant, line errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from modelyard.jobs.models import Command, Project
from tests.jobs.conftest import spec

pytestmark = pytest.mark.django_db

FIRST = spec(
    """
train:
  schedule: "0 6 * * *"
  retries: 2
score:
  on:
    - dataset_version_created: {dataset: events}
""",
    extra="timezone: Europe/Paris\n",
)


def apply(api, text: str, dry_run: bool = False):
    return api.post("/projects/apply", {"source": text, "dry_run": dry_run})


@time_machine.travel(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False)
def test_a_new_project_creates_commands_due_at_their_next_time(alice) -> None:
    response = apply(alice, FIRST)

    assert response.status_code == 200, response.json()
    assert response.json()["changes"] == [
        "+ project red/churn",
        "+ command train",
        "+ command score",
    ]
    train = Command.objects.get(name="train")
    assert (train.schedule, train.retries, train.entry) == ("0 6 * * *", 2, "train")
    # Six in Paris the next morning: five in UTC in winter.
    assert train.next_fire_at == datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert Command.objects.get(name="score").next_fire_at is None  # no schedule


@time_machine.travel(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False)  # a Wednesday
def test_reapplying_prints_a_diff_and_removes_what_left(alice) -> None:
    apply(alice, FIRST)
    changed = spec(
        """
train:
  schedule: "30 7 * * 1-5"
  retries: 2
""",
        extra="timezone: Europe/Paris\n",
    )

    assert apply(alice, changed, dry_run=True).json()["changes"] == [
        "- command score",
        "~ train.schedule: '0 6 * * *' -> '30 7 * * 1-5'",
    ]
    assert Command.objects.get(name="train").schedule == "0 6 * * *"  # dry run: nothing
    apply(alice, changed)

    assert Command.objects.get(name="train").schedule == "30 7 * * 1-5"
    assert not Command.objects.get(name="score").active
    assert Command.objects.get(name="train").next_fire_at == datetime(
        2026, 11, 26, 6, 30, tzinfo=UTC
    )
    assert apply(alice, changed).json()["changes"] == []


def test_removing_a_schedule_or_the_command_stops_its_firing(alice) -> None:
    apply(alice, FIRST)

    apply(alice, spec("train:\n  retries: 1\nscore: {}\n"))
    assert Command.objects.get(name="train").next_fire_at is None
    apply(alice, FIRST)
    apply(alice, spec("score: {}\n"))
    assert Command.objects.get(name="train").next_fire_at is None


def test_invalid_files_answer_with_the_lines(alice) -> None:
    response = apply(alice, spec('train:\n  schedule: "every day"\n  timeout: soon\n'))

    assert response.status_code == 400
    problems = response.json()["problems"]
    assert [p.split(":")[0] for p in problems] == ["line 6", "line 7"]
    assert not Project.objects.exists()


def test_only_members_of_the_team_apply(carol, mallory) -> None:
    assert apply(carol, FIRST).status_code == 403
    assert apply(mallory, FIRST).status_code == 403
    assert apply(carol, spec("train: {}\n", team="nobody")).status_code == 404


def test_the_cli_applies_a_file(cli, tmp_path) -> None:
    path = tmp_path / "modelyard.yaml"
    path.write_text(FIRST)

    dry = cli("apply", "-f", str(path), "--dry-run").stdout
    assert "+ command train" in dry
    assert "Would apply 3 change(s)" in dry
    assert not Project.objects.exists()
    assert "Applied 3 change(s) to red/churn" in cli("apply", "-f", str(path)).stdout
    assert "(no changes)" in cli("apply", "-f", str(path)).stdout
    path.write_text("project: churn\nteam: red\nprogram: p\ncommands:\n  x:\n    retries: -1\n")
    failed = cli.fails("apply", "-f", str(path))
    assert "line 6: retries must be a whole number" in failed


def test_the_project_listing_shows_a_command_line(alice) -> None:
    apply(alice, spec("report:\n  run: python -m report --html\n"))

    (project,) = alice.get("/projects").json()
    (report,) = project["commands"]
    assert (report["entry"], report["run"]) == ("", ["python", "-m", "report", "--html"])
