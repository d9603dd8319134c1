"""When a version will be deleted: one answer for the pages, the API, the CLI and the mails.

The date follows from the policy in force now and from the notices actually sent, never
from a date written down when a notice was planned: a policy changed since then moves
the date. Whatever the policy says, deletion never comes before the final notice was sent
plus the grace days, and a date never lies in the past (an overdue step happens at the
next scan, so the honest answer is "now").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelyard.lifecycle.policies import Thresholds
from modelyard.registry.models import AssetVersion, LifecycleState, unused_since


@dataclass(frozen=True)
class Timeline:
    """What the date depends on: the state and the moments its unused cycle went through."""

    state: str
    last_accessed_at: datetime
    kept_at: datetime | None
    notice_sent_at: datetime | None
    final_notice_sent_at: datetime | None
    protected_at: datetime | None = None
    pinned_until: datetime | None = None

    @property
    def clock(self) -> datetime:
        """The start of the unused time: the last use, keep, or end of protection."""
        return unused_since(
            self.last_accessed_at, self.kept_at, self.protected_at, self.pinned_until
        )

    @classmethod
    def of(cls, version: AssetVersion) -> Timeline:
        return cls(
            version.lifecycle_state,
            version.last_accessed_at,
            version.kept_at,
            version.notice_sent_at,
            version.final_notice_sent_at,
            version.protected_at,
            version.pinned_until,
        )

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> Timeline:
        """From a scan row (its FIELDS) as it is."""
        return cls(
            row["lifecycle_state"],
            row["last_accessed_at"],
            row["kept_at"],
            row["notice_sent_at"],
            row["final_notice_sent_at"],
            row.get("protected_at"),
            row.get("pinned_until"),
        )

    @classmethod
    def after_notice(cls, row: Mapping[str, Any], state: str) -> Timeline:
        """A scan row as the notice being planned leaves it: in `state` (noticed or final
        notice), that notice not sent yet. The date the notice announces is
        `delete_on(Timeline.after_notice(row, state), thresholds, at)`."""
        first_sent = row["notice_sent_at"] if state == LifecycleState.FINAL_NOTICE else None
        return cls(
            state,
            row["last_accessed_at"],
            row["kept_at"],
            first_sent,
            None,
            row.get("protected_at"),
            row.get("pinned_until"),
        )


def delete_on(
    version: AssetVersion | Timeline, thresholds: Thresholds, at: datetime
) -> datetime | None:
    """The earliest moment the version can be deleted, or None when none is scheduled.

    Only noticed versions are scheduled. A notice not sent yet counts as sent at `at`
    (it goes out with the next send), and so does a final notice that is due but not sent.
    """
    timeline = version if isinstance(version, Timeline) else Timeline.of(version)
    if timeline.state == LifecycleState.NOTICED:
        final_sent = _final_notice_at(timeline, thresholds, at)
    elif timeline.state == LifecycleState.FINAL_NOTICE:
        final_sent = timeline.final_notice_sent_at or at
    else:
        return None
    return max(timeline.clock + thresholds.delete, final_sent + thresholds.grace, at)


def _final_notice_at(timeline: Timeline, thresholds: Thresholds, at: datetime) -> datetime:
    """When the final notice goes out: enough unused days, enough days after the first."""
    first_sent = timeline.notice_sent_at or at
    return max(
        timeline.clock + thresholds.final,
        first_sent + (thresholds.final - thresholds.first),
        at,
    )
