"""The model page's gate section: its gate settings and promotion history, with each
attempt's report as people read it.

An inclusion tag, so the registry's model page shows it with one `{% gate_section asset %}`
and without importing the deployment app (the registry sits below it in the layers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import template

from modelyard.deployment.models import GateSettings, Promotion
from modelyard.registry.models import Asset

register = template.Library()

HISTORY_SHOWN = 20


@dataclass(frozen=True)
class CheckLine:
    name: str
    passed: bool
    message: str
    facts: list[tuple[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """The champion check's numbers: the candidate's score against the holder's."""

    metric: str
    candidate_score: float
    holder_score: float | None
    higher_is_better: bool
    tolerance: float
    data: str
    rows: int

    @property
    def worse_by(self) -> float | None:
        """How much worse than the champion the candidate scored (negative: better)."""
        if self.holder_score is None:
            return None
        gap = self.holder_score - self.candidate_score
        return round(gap if self.higher_is_better else -gap, 6)


@dataclass(frozen=True)
class Attempt:
    """One promotion, rollback or refusal, and its report read back into lines."""

    promotion: Promotion
    checks: list[CheckLine]
    comparison: Comparison | None  # when the champion check scored the candidate


@register.inclusion_tag("deployment/gate_section.html")
def gate_section(asset: Asset) -> dict[str, Any]:
    settings = GateSettings.objects.filter(asset=asset).select_related("evaluation_data").first()
    history = (
        Promotion.objects.filter(asset=asset)
        .select_related("from_version__asset__team", "to_version__asset__team", "actor")
        .order_by("-created_at", "-id")
    )
    shown = list(history[: HISTORY_SHOWN + 1])
    return {
        "asset": asset,
        "settings": settings,
        "attempts": [read_attempt(p) for p in shown[:HISTORY_SHOWN]],
        "more": len(shown) > HISTORY_SHOWN,
    }


def read_attempt(promotion: Promotion) -> Attempt:
    report = promotion.report if isinstance(promotion.report, dict) else {}
    raw_checks = [c for c in report.get("checks", []) if isinstance(c, dict)]
    champion = next((c for c in raw_checks if c.get("name") == "champion"), {})
    return Attempt(promotion, [_check_line(c) for c in raw_checks], _comparison(champion))


def _comparison(champion: dict[str, Any]) -> Comparison | None:
    details = champion.get("details")
    if not isinstance(details, dict) or details.get("candidate_score") is None:
        return None
    return Comparison(
        metric=str(details.get("metric", "")),
        candidate_score=float(details["candidate_score"]),
        holder_score=details.get("holder_score"),
        higher_is_better=bool(details.get("higher_is_better", True)),
        tolerance=float(details.get("tolerance") or 0.0),
        data=str(details.get("data", "")),
        rows=int(details.get("rows") or 0),
    )


def _check_line(check: dict[str, Any]) -> CheckLine:
    details = check.get("details")
    details = details if isinstance(details, dict) else {}
    facts = [(key.replace("_", " "), value) for key, value in sorted(details.items())]
    return CheckLine(
        str(check.get("name", "check")),
        bool(check.get("passed")),
        str(check.get("message", "")),
        facts,
    )
