"""The `features:` section: what it declares, and every problem named with its line."""

from __future__ import annotations

import pytest

from modelyard.features.spec import parse, parse_duration
from tests.features.conftest import FEATURES, project


def test_a_valid_section_gives_sources_and_views() -> None:
    spec, problems = parse(project())

    assert problems == []
    clicks = spec.sources["clicks"]
    assert (clicks.keys, clicks.event_time, clicks.lateness_seconds) == (["user_id"], "ts", 7200)
    activity = {f.name: f for f in spec.views["user_activity"].features}
    assert activity["spend_7d"].window_seconds == 7 * 86400
    assert activity["largest"].window_seconds is None  # lifetime
    assert activity["spend_per_click_7d"].ratio == ["spend_7d", "clicks_7d"]
    assert spec.views["purchases"].filter == ["page", "==", "checkout"]


def test_a_file_without_the_section_has_no_features() -> None:
    spec, problems = parse(project(features=""))

    assert (spec.sources, spec.views, problems) == ({}, {}, [])


@pytest.mark.parametrize(
    ("wrong", "right", "message"),
    [
        ("{agg: count, window: 1h}", "{agg: median, window: 1h}", "needs `agg:` one of"),
        ("{agg: count, window: 1h}", "{agg: count, window: 90s}", "whole number of minutes"),
        ("{agg: sum, column: amount, window: 7d}", "{agg: sum, column: page}", "numeric column"),
        ("{agg: sum, column: amount, window: 7d}", "{agg: sum, column: nope}", "needs `column:`"),
        ("[spend_7d, clicks_7d]", "[spend_7d, nothing]", "must name two aggregate"),
        ("page == 'checkout'", "colour == 'red'", "must be `column op value`"),
        ("page == 'checkout'", "amount > 'x'", "must be `column op value`"),
        ("lateness: 2h", "lateness: soon", "lateness 'soon' must be like"),
        ("user_id: int, amount", "user_id: float, amount", "key column 'user_id'"),
        ("event_time: ts", "event_time: page", "event_time 'page' must be a column"),
        ("entity: user", "entity: shopper", "unknown entity 'shopper'"),
        ("amount: float", "amount: decimal", "'decimal' is not a type"),
    ],
)
def test_each_problem_is_named_with_its_line(wrong: str, right: str, message: str) -> None:
    text = project(FEATURES.replace(wrong, right, 1))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if right in row)

    _, problems = parse(text)

    assert any(message in problem and f"line {line}" in problem for problem in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    text = project(
        FEATURES.replace("window: 1h}", "window: 1x}").replace("agg: max", "agg: biggest")
    )

    _, problems = parse(text)

    assert len(problems) == 2, problems


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("7d", 604800), ("90m", 5400), ("1d12h", 129600), ("", None), ("1w", None)],
)
def test_durations(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


def test_the_readme_example_is_valid() -> None:
    from pathlib import Path

    from modelyard.jobs.spec import parse as parse_project

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Feature store") :]
    example = section[
        section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml"))
    ]

    spec, problems = parse(example)

    assert problems == []
    assert parse_project(example).team == "red"
    assert set(spec.views) == {"user_activity", "purchases"}
