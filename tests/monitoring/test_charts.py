"""The server-drawn SVG charts: well-formed, names escaped, gaps break lines, ticks round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from modelyard.monitoring.charts import Axis, Reference, Series, Span, line_chart, span_chart

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 (our own markup)


def test_a_missing_value_breaks_the_line_and_names_are_escaped() -> None:
    axis = Axis.over(START, START + timedelta(minutes=50))
    points = [(START + timedelta(minutes=10 * i), v) for i, v in enumerate([1, 2, None, 3, 4])]
    svg = parse(line_chart(axis, [Series("<f0>", points)], [Reference("limit & co", 5)]))

    lines = svg.findall("{http://www.w3.org/2000/svg}polyline")
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    assert "<f0> at 09:00: 1" in titles
    assert "limit & co: 5" in titles


def test_ticks_are_round_numbers_and_times() -> None:
    axis = Axis.over(START, START + timedelta(hours=2))
    svg = parse(line_chart(axis, [Series("p99", [(START, 0.0), (axis.end, 37.0)])], unit=" ms"))

    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert labels[:5] == ["09:00", "09:30", "10:00", "10:30", "11:00"]
    assert labels[5:] == ["0 ms", "10 ms", "20 ms", "30 ms", "40 ms"]


def test_an_open_alert_spans_to_now_in_its_monitors_lane() -> None:
    axis = Axis.over(START, START + timedelta(hours=1))
    span = Span("auc", START + timedelta(minutes=30), axis.end, "firing", "alert 3")
    svg = parse(span_chart(axis, ["drift", "auc"], [span]))

    bar = svg.find("{http://www.w3.org/2000/svg}rect")
    assert bar is not None
    assert bar.get("fill") == "#c92a2a"
    assert float(bar.get("y", 0)) > 26  # the second lane
    assert float(bar.get("x", 0)) + float(bar.get("width", 0)) == axis.x(axis.end)
