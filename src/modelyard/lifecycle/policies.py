"""Which thresholds apply to a version: the most specific matching policy wins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from modelyard.lifecycle.models import Policy


@dataclass(frozen=True)
class Thresholds:
    first_notice_days: int = 30
    final_notice_days: int = 50
    delete_after_days: int = 60
    grace_days: int = 10
    keep_newest: int = 0

    @property
    def first(self) -> timedelta:
        return timedelta(days=self.first_notice_days)

    @property
    def final(self) -> timedelta:
        return timedelta(days=self.final_notice_days)

    @property
    def delete(self) -> timedelta:
        return timedelta(days=self.delete_after_days)

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)

    @classmethod
    def of(cls, policy: Policy) -> Thresholds:
        return cls(
            policy.first_notice_days,
            policy.final_notice_days,
            policy.delete_after_days,
            policy.grace_days,
            policy.keep_newest,
        )


DEFAULT = Thresholds()


class PolicyBook:
    """All policies for this environment, loaded once per scan and resolved in memory."""

    def __init__(self, environment: str | None = None) -> None:
        env = environment or settings.ENVIRONMENT
        rows = Policy.objects.filter(environment__in=["", env])
        # Specificity: a team match outweighs a kind match, which outweighs an environment one.
        self._scoped = {(p.team_id, p.kind, p.environment): Thresholds.of(p) for p in rows}
        self._resolved: dict[tuple[int, str], Thresholds] = {}

    def for_version(self, team_id: int, kind: str) -> Thresholds:
        key = (team_id, kind)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(team_id, kind)
        return self._resolved[key]

    def _resolve(self, team_id: int, kind: str) -> Thresholds:
        best: tuple[int, Thresholds] = (-1, DEFAULT)
        for (team, policy_kind, environment), thresholds in self._scoped.items():
            if team not in (None, team_id) or policy_kind not in ("", kind):
                continue
            score = 4 * (team is not None) + 2 * bool(policy_kind) + bool(environment)
            if score > best[0]:
                best = (score, thresholds)
        return best[1]

    def earliest_first_notice(self) -> timedelta:
        """The shortest first-notice threshold any version can have: the scan's cut-off."""
        days = [t.first_notice_days for t in self._scoped.values()] + [DEFAULT.first_notice_days]
        return timedelta(days=min(days))
