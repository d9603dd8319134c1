"""Applying modelyard.yaml: a diff, dry runs, cron entries in beat's tables, line errors."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

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


def test_a_new_project_creates_commands_and_its_cron_entry(alice) -> None:
    response = apply(alice, FIRST)

    assert response.status_code == 200, response.json()
    assert response.json()["changes"] == [
        "+ project red/churn",
        "+ command train",
        "+ command score",
    ]
    train = Command.objects.get(name="train")
    assert (train.schedule, train.retries, train.entry) == ("0 6 * * *", 2, "train")
    entry = PeriodicTask.objects.get(name="modelyard run red/churn:train")
    assert entry.task == "modelyard.jobs.tasks.fire_schedule"
    assert (entry.crontab.hour, entry.crontab.minute, str(entry.crontab.timezone)) == (
        "6",
        "0",
        "Europe/Paris",
    )
    assert entry.args == f"[{train.pk}]"


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
    assert PeriodicTask.objects.get(name="modelyard run red/churn:train").crontab.hour == "7"
    assert apply(alice, changed).json()["changes"] == []


def test_removing_a_schedule_removes_the_cron_entry(alice) -> None:
    apply(alice, FIRST)

    apply(alice, spec("train:\n  retries: 1\n"))

    assert not PeriodicTask.objects.filter(name__startswith="modelyard run").exists()


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
