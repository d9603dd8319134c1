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


def minimal(commands: str, extra: str = "") -> str:
    return f"project: churn\nteam: red\nprogram: p\n{extra}commands:\n{commands}"


def test_a_schedule_on_a_day_of_the_month_is_read_in_cron_order() -> None:
    """Checked before as crontab(minute, hour, day_of_week, …): the 15th was a weekday 15."""
    spec = parse(minimal('  report:\n    schedule: "0 6 15 * *"\n'))

    assert spec.commands["report"].schedule == "0 6 15 * *"


def test_a_schedule_that_never_comes_is_refused() -> None:
    with pytest.raises(SpecError, match="never comes"):
        parse(minimal('  report:\n    schedule: "0 6 31 2 *"\n'))


def test_events_of_another_team_are_named_with_from_and_shared_by_a_list() -> None:
    text = minimal(
        "  score:\n    on:\n      - table_loaded: {from: blue, table: clicks, path: s3://b/k}\n",
        extra="share_events_with: [ops, blue, ops]\n",
    )

    spec = parse(text)

    (trigger,) = spec.commands["score"].triggers
    assert trigger == {
        "event": "table_loaded",
        "from": "blue",
        "filter": {"table": "clicks", "path": "s3://b/k"},
    }
    assert spec.share_events_with == ["blue", "ops"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (minimal("  s:\n    on:\n      - model_promoted: {model: blue/churn}\n"), "`from: blue`"),
        (minimal("  s:\n    on:\n      - loaded: {from: 'a b'}\n"), "must name a team"),
        (minimal("  s: {}\n", extra="share_events_with: blue\n"), "list of team names"),
    ],
)
def test_event_rules_in_the_file(text: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse(text)

    assert says in str(caught.value)
