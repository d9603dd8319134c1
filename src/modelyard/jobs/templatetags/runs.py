"""Template helpers for the runs pages: durations, rates and times left as people read them."""

from __future__ import annotations

from django import template
from django.utils import timezone

from modelyard.jobs.models import Run
from modelyard.lib import formats

register = template.Library()


@register.filter
def seconds(value: float | None) -> str:
    """95 → '1 min 35 s', 7300 → '2 h 2 min'."""
    if value is None:
        return "—"
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@register.filter
def duration(run: Run) -> str:
    """How long the run ran (so far, while it runs)."""
    if run.started_at is None:
        return "—"
    end = run.finished_at or timezone.now()
    return seconds((end - run.started_at).total_seconds())


@register.filter
def rate(per_second: float | None) -> str:
    """Progress units a second, or a minute when slower than one a second."""
    if not per_second:
        return "—"
    if per_second < 1:
        return f"{formats.number(round(per_second * 60, 2))}/min"
    return f"{formats.number(round(per_second, 1))}/s"
