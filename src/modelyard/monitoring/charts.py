"""Charts of the monitoring tab, drawn on the server as SVG: no script, nothing downloaded.

Three shapes: lines over time (with dashed reference lines such as a threshold), stacked
bars over time (traffic per version), and spans over time (the alert timeline). All share
one time axis, so the charts of one page line up. Plain Python: no Django, no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 10, 24
PALETTE = ("#2f5bd3", "#d9480f", "#2b8a3e", "#862e9c", "#0b7285", "#c2255c", "#5c940d", "#e67700")
SPAN_COLORS = {"firing": "#c92a2a", "acknowledged": "#e67700", "resolved": "#8b93a3"}
Point = tuple[datetime, float | None]


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point]
    color: str = PALETTE[0]


@dataclass(frozen=True)
class Reference:
    """A horizontal dashed line: a threshold, the promotion score."""

    name: str
    value: float
    color: str = "#a4262c"


@dataclass(frozen=True)
class Span:
    row: str
    start: datetime
    end: datetime
    state: str
    title: str


@dataclass(frozen=True)
class Axis:
    """The time range every chart of a page shares, and how its ticks read."""

    start: datetime
    end: datetime
    ticks: list[datetime] = field(default_factory=list)

    @classmethod
    def over(cls, start: datetime, end: datetime) -> Axis:
        end = max(end, start + timedelta(minutes=1))
        return cls(start, end, _time_ticks(start, end))

    def x(self, at: datetime) -> float:
        share = (at - self.start) / (self.end - self.start)
        return LEFT + (WIDTH - LEFT - RIGHT) * min(1.0, max(0.0, share))

    def label(self, at: datetime) -> str:
        if self.end - self.start > timedelta(days=2):
            return f"{at:%m-%d}"
        return f"{at:%H:%M:%S}" if self.end - self.start < timedelta(minutes=5) else f"{at:%H:%M}"


def line_chart(
    axis: Axis,
    series: Sequence[Series],
    references: Sequence[Reference] = (),
    unit: str = "",
    floor: float | None = 0.0,
) -> str:
    values = [v for s in series for _, v in s.points if v is not None]
    values += [r.value for r in references]
    low, high = _value_range(values, floor)
    scale = _Scale(low, high)
    parts = [*_frame(axis, scale, unit)]
    for reference in references:
        y = scale.y(reference.value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{reference.color}" stroke-dasharray="5 4" stroke-width="1.2">'
            f"<title>{escape(reference.name)}: {_short(reference.value)}{escape(unit)}</title>"
            "</line>"
        )
    for one in series:
        parts.extend(_path(axis, scale, one, unit))
    return _svg(parts, "Line chart")


def bar_chart(axis: Axis, width: timedelta, series: Sequence[Series], unit: str = "") -> str:
    """Bars of `width` starting at each point's time, the series stacked in order."""
    totals: dict[datetime, float] = {}
    for one in series:
        for at, value in one.points:
            totals[at] = totals.get(at, 0.0) + (value or 0.0)
    scale = _Scale(*_value_range(list(totals.values()), 0.0))
    parts = [*_frame(axis, scale, unit)]
    stacked: dict[datetime, float] = {}
    for one in series:
        for at, value in one.points:
            if not value:
                continue
            below = stacked.get(at, 0.0)
            stacked[at] = below + value
            x0, x1 = axis.x(at), axis.x(at + width)
            top, bottom = scale.y(below + value), scale.y(below)
            parts.append(
                f'<rect x="{x0:.1f}" y="{top:.1f}" width="{max(1.0, x1 - x0 - 0.6):.1f}" '
                f'height="{max(0.5, bottom - top):.1f}" fill="{one.color}">'
                f"<title>{escape(one.name)} at {axis.label(at)}: {_short(value)}{escape(unit)}"
                "</title></rect>"
            )
    return _svg(parts, "Bar chart")


def span_chart(axis: Axis, rows: Sequence[str], spans: Sequence[Span]) -> str:
    """One lane per row (a monitor), a bar per alert from firing to resolved (or now)."""
    lane = 26
    height = TOP + BOTTOM + lane * max(1, len(rows))
    parts = [_time_grid(axis, height)]
    for index, row in enumerate(rows):
        y = TOP + index * lane
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + lane / 2 + 4:.1f}" text-anchor="end" '
            f'class="tick">{escape(_clip(row, 8))}<title>{escape(row)}</title></text>'
        )
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y + lane:.1f}" y2="{y + lane:.1f}" '
            'stroke="#eef0f4"/>'
        )
    for span in spans:
        y = TOP + rows.index(span.row) * lane + 5
        x0, x1 = axis.x(span.start), axis.x(span.end)
        parts.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(3.0, x1 - x0):.1f}" '
            f'height="{lane - 10}" rx="3" fill="{SPAN_COLORS.get(span.state, "#5b6475")}">'
            f"<title>{escape(span.title)}</title></rect>"
        )
    return _svg(parts, "Alert timeline", height)


# --- pieces -------------------------------------------------------------------------------


class _Scale:
    def __init__(self, low: float, high: float) -> None:
        self.ticks = _nice_ticks(low, high)
        self.low, self.high = self.ticks[0], self.ticks[-1]

    def y(self, value: float) -> float:
        share = (value - self.low) / ((self.high - self.low) or 1.0)
        return TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - min(1.0, max(0.0, share)))


def _frame(axis: Axis, scale: _Scale, unit: str) -> list[str]:
    parts = [_time_grid(axis, HEIGHT)]
    for tick in scale.ticks:
        y = scale.y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eef0f4"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{_short(tick)}{escape(unit)}</text>"
        )
    return parts


def _time_grid(axis: Axis, height: int) -> str:
    parts = [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{height - BOTTOM}" y2="{height - BOTTOM}" '
        'stroke="#c5cad3"/>'
    ]
    for tick in axis.ticks:
        x = axis.x(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}" stroke="#f1f2f5"/>'
            f'<text x="{x:.1f}" y="{height - BOTTOM + 15}" text-anchor="middle" class="tick">'
            f"{axis.label(tick)}</text>"
        )
    return "".join(parts)


def _path(axis: Axis, scale: _Scale, series: Series, unit: str) -> list[str]:
    """A polyline per run of known values (None breaks the line), and a dot per point."""
    runs: list[list[str]] = [[]]
    dots = []
    for at, value in series.points:
        if value is None:
            runs.append([])
            continue
        x, y = axis.x(at), scale.y(value)
        runs[-1].append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{series.color}">'
            f"<title>{escape(series.name)} at {axis.label(at)}: {_short(value)}{escape(unit)}"
            "</title></circle>"
        )
    lines = [
        f'<polyline points="{" ".join(run)}" fill="none" stroke="{series.color}" '
        'stroke-width="1.8" stroke-linejoin="round"/>'
        for run in runs
        if len(run) > 1
    ]
    return [*lines, *dots]


def _svg(parts: list[str], label: str, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _value_range(values: Sequence[float], floor: float | None) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return (floor or 0.0), 1.0
    low = min(finite) if floor is None else min(floor, min(finite))
    high = max(finite)
    if high - low < 1e-9:
        high = low + (abs(low) * 0.1 or 1.0)
    return low, high


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - 1e-12:
        ticks.append(ticks[-1] + step)
    return [round(t, 10) for t in ticks]


def _time_ticks(start: datetime, end: datetime, count: int = 6) -> list[datetime]:
    span = (end - start).total_seconds()
    steps = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
    step = next((s for s in steps if span / s <= count), 86400 * math.ceil(span / 86400 / count))
    first = start.timestamp() + (-start.timestamp()) % step
    ticks = []
    at = first
    while at <= end.timestamp():
        ticks.append(datetime.fromtimestamp(at, start.tzinfo))
        at += step
    return ticks


def _short(value: float) -> str:
    """Tick and tooltip numbers: 1200 → '1.2k', 0.25 → '0.25', 3.0 → '3'."""
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
