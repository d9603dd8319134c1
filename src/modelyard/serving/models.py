"""What the prediction server needs to know about a model beyond its files."""

from __future__ import annotations

from django.db import models


class ServingSettings(models.Model):
    """Per model: how the prediction server batches its requests."""

    asset = models.OneToOneField(
        "registry.Asset", on_delete=models.CASCADE, related_name="serving_settings"
    )
    max_batch_size = models.PositiveIntegerField(
        default=32, help_text="Rows per micro-batch; 1 turns batching off."
    )
    max_wait_ms = models.FloatField(
        default=0.0, help_text="How long a batch may wait for more requests."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "serving settings"
        verbose_name_plural = "serving settings"

    def __str__(self) -> str:
        return f"serving of {self.asset}"
