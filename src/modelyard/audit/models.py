"""Who did what to which asset, when, and why: one row for every state change."""

from __future__ import annotations

from django.conf import settings
from django.db import models

ACCESS_DENIED = "access.denied"


class AuditEvent(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the platform itself acted (see actor_label).",
    )
    actor_label = models.CharField(max_length=150, help_text="Username, or system:<component>.")
    action = models.CharField(max_length=64, db_index=True)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asset = models.ForeignKey(
        "registry.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.ForeignKey(
        "registry.AssetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["asset", "-created_at"], name="audit_asset_recent"),
            models.Index(fields=["team", "-created_at"], name="audit_team_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class DenialTally(models.Model):
    """Per actor: access.denied rows written and left out in the current minute.

    audit.services.record_denied keeps it, one locked row per actor, so a flood of refused
    requests writes at most a fixed number of audit rows a minute and the rest are counted
    exactly: the first row of the actor's next minute carries the count.
    """

    actor_label = models.CharField(max_length=150, unique=True)
    window_start = models.DateTimeField()
    written = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.actor_label}: {self.written} written, {self.suppressed} left out"
