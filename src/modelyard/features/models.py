"""Sources and views as applied from modelyard.yaml, and the online store's tiles.

A source or view removed from the file is deactivated, not deleted: its tiles, its raw
event log and its feature set versions stay readable.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from modelyard.features.aggregations import Feature, RowFilter, ViewDefinition


class Source(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=64)
    project = models.CharField(max_length=128, help_text="The project that declares it.")
    definition = models.JSONField(help_text="The source as applied (features/spec.py).")
    active = models.BooleanField(default=True)
    applied_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="feature_source_unique")
        ]

    def __str__(self) -> str:
        return f"{self.team.name}/{self.name}"

    @property
    def schema(self) -> dict[str, str]:
        return dict(self.definition["schema"])

    @property
    def keys(self) -> list[str]:
        return list(self.definition["keys"])

    @property
    def time_column(self) -> str:
        return str(self.definition["event_time"])

    @property
    def lateness_seconds(self) -> int:
        return int(self.definition["lateness_seconds"])


class View(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=64)
    project = models.CharField(max_length=128)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="views")
    definition = models.JSONField(help_text="Source and view as applied: the feature set version.")
    version = models.ForeignKey(
        "registry.AssetVersion",
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The feature set version of this definition.",
    )
    active = models.BooleanField(default=True)
    newest_event_at = models.DateTimeField(
        null=True, blank=True, help_text="Time of the newest event applied to the tiles."
    )
    applied_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="feature_view_unique")]

    def __str__(self) -> str:
        return f"{self.team.name}/{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.team.name}/{self.name}"

    def aggregation_definition(self) -> ViewDefinition:
        # Kept with the definition it was made from: online reads ask for it every request.
        cached = self.__dict__.get("_aggregation")
        if cached is None or cached[0] is not self.definition:
            cached = (self.definition, view_definition(self.definition))
            self.__dict__["_aggregation"] = cached
        return cached[1]


def view_definition(definition: dict[str, Any]) -> ViewDefinition:
    """The aggregation code's view of a stored definition (FeaturesSpec.view_definition)."""
    source, view = definition["source"], definition["view"]
    features = tuple(
        Feature(
            f["name"],
            f["agg"],
            f["column"],
            f["window_seconds"],
            tuple(f["ratio"]) if f["ratio"] else None,
        )
        for f in view["features"]
    )
    row_filter = RowFilter(*view["filter"]) if view["filter"] else None
    return ViewDefinition(tuple(source["keys"]), source["event_time"], features, row_filter)


class Tile(models.Model):
    """Partial aggregates of one view for one entity over [start, start + size) seconds."""

    view = models.ForeignKey(View, on_delete=models.CASCADE, related_name="tiles")
    # At most 4 keys of at most 100 characters (spec.py, validation.py): within an index entry.
    entity_key = models.TextField(help_text="The key values, as a JSON list.")
    size = models.IntegerField()
    start = models.BigIntegerField(help_text="Seconds since the epoch, a multiple of size.")
    # JSON text, not a JSON column: the states must come back exactly as written, whatever
    # a database's JSON type does with numbers (jsonb keeps them as `numeric`, and prints
    # 1e+15 as 1000000000000000).
    states = models.TextField(help_text="Each aggregate feature's partial state, as JSON.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["view", "entity_key", "size", "start"], name="feature_tile_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.view_id} {self.entity_key} {self.size}s@{self.start}"

    @property
    def partials(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.states)
        return found


class SeenEvent(models.Model):
    """The event ids a source has taken, so a re-sent event is applied once."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=256)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="feature_event_unique")
        ]

    def __str__(self) -> str:
        return self.event_id
