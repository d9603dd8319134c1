"""Lifecycle data: policies, the notice ledger, used links and bounced addresses."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from modelyard.registry.models import Kind


class Step(models.TextChoices):
    FIRST_NOTICE = "first_notice", "First notice"
    FINAL_NOTICE = "final_notice", "Final notice"
    # Not a step of the unused cycle: a store refused for good to delete the bytes.
    DELETION_REFUSED = "deletion_refused", "Deletion refused"


class Policy(models.Model):
    """Thresholds in days of no use. Empty kind/team/environment match any; specific wins."""

    kind = models.CharField(max_length=16, choices=Kind.choices, blank=True)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    environment = models.CharField(max_length=16, blank=True)
    first_notice_days = models.PositiveIntegerField(default=30)
    final_notice_days = models.PositiveIntegerField(default=50)
    delete_after_days = models.PositiveIntegerField(default=60)
    grace_days = models.PositiveIntegerField(
        default=10, help_text="Least time between the final notice being sent and deletion."
    )
    keep_newest = models.PositiveIntegerField(
        default=0, help_text="Never touch this many newest versions of each asset."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # One row per scope is kept by services.set_policy (a NULL team defeats a plain
        # unique constraint outside PostgreSQL 15's NULLS NOT DISTINCT).
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return f"{self.scope}: {self.first_notice_days}/{self.final_notice_days}/" + (
            f"{self.delete_after_days} days"
        )

    @property
    def scope(self) -> str:
        team = self.team.name if self.team else ""
        return "/".join(p for p in (self.environment, team, self.kind) if p) or "default"

    def clean(self) -> None:
        problems = policy_problems(
            self.first_notice_days, self.final_notice_days, self.delete_after_days, self.grace_days
        )
        if problems:
            raise ValidationError(problems)


def policy_problems(first: int, final: int, delete: int, grace: int) -> list[str]:
    problems = []
    if not 0 < first < final < delete:
        problems.append(
            f"Thresholds must grow: first notice ({first}) < final notice ({final}) < "
            f"deletion ({delete}) days, all above 0."
        )
    if grace < 1:
        problems.append(f"Grace must be at least 1 day (got {grace}).")
    return problems


class Notice(models.Model):
    """One row per recipient × version × step × unused cycle: the ledger that stops resends.

    `cycle` is the version's clock (last use or keep) when the step was planned, so a version
    that is used or kept and later goes stale again gets fresh rows.
    """

    version = models.ForeignKey(
        "registry.AssetVersion", on_delete=models.CASCADE, related_name="notices"
    )
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    step = models.CharField(max_length=16, choices=Step.choices)
    cycle = models.DateTimeField()
    recipient = models.CharField(max_length=254, blank=True, help_text="Empty: nobody reachable.")
    recipient_user = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    delete_on = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "step", "cycle", "recipient"], name="notice_once"
            )
        ]
        indexes = [
            models.Index(fields=["sent_at", "team", "step"], name="notice_unsent"),
            # The sender reads and marks its claimed rows by claim; without this index each
            # of a big scan's thousands of groups read every unsent row (benchmarks/README).
            models.Index(
                fields=["claim"], condition=models.Q(sent_at__isnull=True), name="notice_claimed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step} of {self.version_id} to {self.recipient or 'nobody'}"


class UsedLink(models.Model):
    """A keep/delete link that was acted on. Only the token's hash is stored."""

    token_hash = models.CharField(max_length=64, unique=True)
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16)
    used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.action} link of notice {self.notice_id}, used {self.used_at:%Y-%m-%d}"


class Bounce(models.Model):
    """An address that bounced permanently: notices skip it."""

    email = models.EmailField(unique=True)
    reason = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.email


class Lease(models.Model):
    """A named lease held by one process at a time: scans and sends of notices take it.

    A conditional update claims it (free, or expired because its holder died), so it works
    the same on PostgreSQL and on the embedded SQLite, across processes and machines.
    """

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'}"
