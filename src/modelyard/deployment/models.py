"""What the gate needs to know about a model, and every promotion attempt with its report."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class GateSettings(models.Model):
    """Per model: how candidates are judged against the current holder of an alias."""

    asset = models.OneToOneField(
        "registry.Asset", on_delete=models.CASCADE, related_name="gate_settings"
    )
    metric = models.CharField(
        max_length=32,
        blank=True,
        help_text="roc_auc, accuracy, f1, log_loss, rmse, mae or r2; empty: the first of "
        "these the candidate declares among its metrics.",
    )
    tolerance = models.FloatField(
        default=0.0, help_text="How much worse than the current holder a candidate may score."
    )
    evaluation_data = models.ForeignKey(
        "registry.AssetVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A data set version (CSV or Parquet) with the inputs and the label column.",
    )
    label_column = models.CharField(max_length=128, default="target")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "gate settings"
        verbose_name_plural = "gate settings"

    def __str__(self) -> str:
        return f"gate of {self.asset}"


class Promotion(models.Model):
    class Outcome(models.TextChoices):
        PROMOTED = "promoted", "Promoted"
        REFUSED = "refused", "Refused by the gate"
        FORCED = "forced", "Forced past the gate"
        ROLLED_BACK = "rolled_back", "Rolled back"

    asset = models.ForeignKey("registry.Asset", on_delete=models.CASCADE, related_name="+")
    alias = models.CharField(max_length=63)
    from_version = models.ForeignKey(
        "registry.AssetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    to_version = models.ForeignKey(
        "registry.AssetVersion", on_delete=models.CASCADE, related_name="promotions"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    report = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["asset", "alias", "-created_at"], name="promotion_recent")]

    def __str__(self) -> str:
        return f"{self.asset}@{self.alias} -> {self.to_version.version}: {self.outcome}"
