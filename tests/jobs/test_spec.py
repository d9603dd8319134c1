"""modelyard.yaml: a valid file normalised, every problem reported with its line."""

from __future__ import annotations

import pytest

from modelyard.jobs.spec import SpecError, parse

VALID = """\
project: churn
team: growth
program: churn_model
timezone: Europe/Paris
commands:
  train:
    schedule: "0 6 * * *"
    timeout: 2h
    retries: 2
  score:
    entry: score_all
    on:
      - dataset_version_created: {dataset: events}
      - model_promoted: {model: churn, alias: production}
    concurrency: 2
"""


def test_the_issue_example_parses() -> None:
    spec = parse(VALID)

    assert (spec.project, spec.team, spec.program, spec.timezone) == (
        "churn",
        "growth",
        "churn_model",
        "Europe/Paris",
    )
    train, score = spec.commands["train"], spec.commands["score"]
    assert (train.schedule, train.timeout_seconds, train.retries) == ("0 6 * * *", 7200, 2)
    assert (score.entry, score.concurrency) == ("score_all", 2)
    assert score.triggers == [
        {"event": "dataset_version_created", "filter": {"dataset": "events"}},
        {"event": "model_promoted", "filter": {"model": "churn", "alias": "production"}},
    ]
    assert train.entry == "train"
    assert train.triggers == []


def test_every_problem_is_reported_with_its_line() -> None:
    text = """\
project: churn
team: growth
program: churn_model
timezone: Mars/Olympus
commands:
  train:
    schedule: "0 25 * * *"
    timeout: soon
    retry: 2
  score:
    concurrency: 0
    on:
      - dataset_version_created: {table: events}
"""
    with pytest.raises(SpecError) as caught:
        parse(text)

    problems = caught.value.problems
    assert any(p.startswith("line 4: unknown time zone 'Mars/Olympus'") for p in problems)
    assert any(p.startswith("line 7: schedule '0 25 * * *' is not a cron line") for p in problems)
    assert any(p.startswith("line 8: timeout 'soon'") for p in problems)
    assert any(p.startswith("line 9: unknown key 'retry'") for p in problems)
    assert any(p.startswith("line 11: concurrency must be a whole number") for p in problems)
    assert any(
        p.startswith("line 13: dataset_version_created filters on dataset, not table")
        for p in problems
    )
    assert len(problems) == 6


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("project: [oops", "not valid YAML"),
        ("", "empty"),
        ("project: churn\n", "`team:` is missing"),
        ("project: churn\nteam: red\nprogram: p\ncommands: {}\n", "at least one command"),
        ("project: churn\nteam: red\nprogram: p\ncommands:\n  bad-name: {}\n", "identifier"),
    ],
)
def test_malformed_files(text: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse(text)

    assert says in str(caught.value)


def test_a_command_can_be_a_command_line() -> None:
    head = "project: churn\nteam: red\nprogram: p\ncommands:\n"
    spec = parse(
        head + "  report:\n    run: python -m churn.report --title 'Weekly churn'\n"
        "  listed:\n    run: [Rscript, fit.R, --fast]\n"
    )

    report, listed = spec.commands["report"], spec.commands["listed"]
    assert report.run == ["python", "-m", "churn.report", "--title", "Weekly churn"]
    assert (listed.run, listed.entry) == (["Rscript", "fit.R", "--fast"], "")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("  c:\n    entry: f\n    run: ./fit\n", "line 6: command 'c' gives both `entry:`"),
        ('  c:\n    run: "python -c \'oops"\n', 'line 6: run "python -c \'oops" does not split'),
        ("  c:\n    run: []\n", "line 6: run must be a command line"),
    ],
)
def test_a_bad_command_line_is_named_with_its_line(command: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse("project: churn\nteam: red\nprogram: p\ncommands:\n" + command)

    assert any(p.startswith(says) for p in caught.value.problems), caught.value.problems
