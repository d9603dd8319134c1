"""The catalog: models, data sets and feature sets, their versions, bytes, lineage and aliases.

All asset kinds share one `Asset` and one `AssetVersion` table, told apart by `kind`.
That is what lets the lifecycle engine scan every kind with one indexed query and lets a
new kind be added as a new `Kind` value rather than new tables and copied code. `Model`,
`Dataset` and `FeatureSet` are proxies so the admin and code can still speak of each kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

ASSET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
asset_name_validator = RegexValidator(
    ASSET_NAME_PATTERN,
    "Use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.",
)
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
# Environment aliases: only the promotion gate moves them on a model (registry/api.py).
ENVIRONMENT_ALIASES = ("production", "staging")


class Kind(models.TextChoices):
    MODEL = "model", "Model"
    DATASET = "dataset", "Data set"
    FEATURE_SET = "featureset", "Feature set"


# The word for each kind in URLs, shared by the API (/api/v1/models) and the UI (/models/…).
PLURAL = {Kind.MODEL: "models", Kind.DATASET: "datasets", Kind.FEATURE_SET: "featuresets"}


class LifecycleState(models.TextChoices):
    ACTIVE = "active", "Active"
    NOTICED = "noticed", "Noticed"
    FINAL_NOTICE = "final_notice", "Final notice"
    DELETING = "deleting", "Deleting"
    DELETED = "deleted", "Deleted"


# A version in one of these states has lost its bytes or is losing them: nothing may read,
# promote, serve or keep it. Asked through `AssetVersion.is_gone` and `.live()`/`.gone()`.
GONE_STATES = (LifecycleState.DELETING, LifecycleState.DELETED)
# States a version may be deleted from (manually or by the lifecycle).
LIVE_STATES = (LifecycleState.ACTIVE, LifecycleState.NOTICED, LifecycleState.FINAL_NOTICE)


class Asset(models.Model):
    kind = models.CharField(max_length=16, choices=Kind.choices)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="assets")
    name = models.CharField(max_length=128, validators=[asset_name_validator])
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped under a row lock when a version is registered, so numbers never collide.
    latest_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "team", "name"], name="asset_unique_name")
        ]
        indexes = [models.Index(fields=["kind", "name"], name="asset_kind_name")]

    def __str__(self) -> str:
        return f"{self.team.name}/{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.team.name}/{self.name}"


class _KindManager(models.Manager["Asset"]):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def get_queryset(self) -> models.QuerySet[Asset]:
        return super().get_queryset().filter(kind=self.kind)


class Model(Asset):
    objects: ClassVar[_KindManager] = _KindManager(Kind.MODEL)  # type: ignore[assignment]

    class Meta:
        proxy = True


class Dataset(Asset):
    objects: ClassVar[_KindManager] = _KindManager(Kind.DATASET)  # type: ignore[assignment]

    class Meta:
        proxy = True
        verbose_name = "data set"


class FeatureSet(Asset):
    objects: ClassVar[_KindManager] = _KindManager(Kind.FEATURE_SET)  # type: ignore[assignment]

    class Meta:
        proxy = True
        verbose_name = "feature set"


class AssetVersionQuerySet(models.QuerySet["AssetVersion"]):
    def live(self) -> AssetVersionQuerySet:
        """Versions whose bytes are still there and not being deleted."""
        return self.exclude(lifecycle_state__in=GONE_STATES)

    def gone(self) -> AssetVersionQuerySet:
        return self.filter(lifecycle_state__in=GONE_STATES)


class AssetVersion(models.Model):
    """One immutable version. Metadata may be edited (audited); its bytes never change."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="versions")
    # Copied from the asset (never change) so per-kind scans and per-team listings need no
    # join and have indexes of their own.
    kind = models.CharField(max_length=16, choices=Kind.choices, editable=False)
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.PROTECT, related_name="+", editable=False
    )
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    flavor = models.CharField(
        max_length=64,
        blank=True,
        help_text="Models: framework/flavor (sklearn, onnx, mlflow…). Data: format (parquet…).",
    )
    signature = models.JSONField(
        default=dict, blank=True, help_text="Models: inputs/outputs. Data: column schema."
    )
    input_example = models.JSONField(
        null=True,
        blank=True,
        help_text="Models: a few input rows (lists in signature order, or objects by column) "
        "that the promotion gate predicts on.",
    )
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(
        default=timezone.now, help_text="May lie in the past when an existing store is onboarded."
    )
    registered_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_accessed_at = models.DateTimeField(default=timezone.now)
    lifecycle_state = models.CharField(
        max_length=16, choices=LifecycleState.choices, default=LifecycleState.ACTIVE
    )
    lifecycle_changed_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    bytes_reclaimed = models.BigIntegerField(default=0)
    # Lifecycle: what protects the version and how far its current unused cycle has got.
    kept_at = models.DateTimeField(
        null=True, blank=True, help_text="Last 'keep': restarts the unused clock like a use."
    )
    pinned_until = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    final_notice_sent_at = models.DateTimeField(null=True, blank=True)
    deletion_error = models.TextField(blank=True)
    protected_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last time the version was seen protected (alias, pin, hold, or a protected "
        "version depending on it): its unused clock starts no earlier than this.",
    )
    deletion_attempts = models.PositiveIntegerField(
        default=0, help_text="Failed attempts to delete the bytes so far."
    )
    next_deletion_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="While deleting: when the sweep tries again."
    )
    trained_on = models.ManyToManyField(
        "self",
        through="LineageEdge",
        through_fields=("downstream", "upstream"),
        symmetrical=False,
        related_name="used_by",
        blank=True,
    )

    objects = AssetVersionQuerySet.as_manager()

    class Meta:
        ordering = ["asset_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "version"], name="version_unique_number")
        ]
        indexes = [
            # Staleness scans and the stale-since filter are range scans on last use.
            models.Index(fields=["last_accessed_at"], name="version_last_accessed"),
            models.Index(
                fields=["kind", "lifecycle_state", "last_accessed_at"], name="version_lifecycle"
            ),
            # Newest first, whole catalog or one team: pages without sorting every row.
            models.Index(fields=["-registered_at", "id"], name="version_recent"),
            models.Index(fields=["team", "-registered_at", "id"], name="version_team_recent"),
            models.Index(fields=["team", "last_accessed_at"], name="version_team_stale"),
        ]

    def __str__(self) -> str:
        return f"{self.asset}:{self.version}"

    @property
    def ref(self) -> str:
        return f"{self.asset.ref}:{self.version}"

    @property
    def next_deletion_attempt(self) -> datetime | None:
        """When the deletion is tried again; None unless it is still under way."""
        if self.lifecycle_state != LifecycleState.DELETING:
            return None
        return self.next_deletion_attempt_at

    @property
    def size_bytes(self) -> int:
        return sum(artifact.size_bytes for artifact in self.artifacts.all())

    @property
    def is_gone(self) -> bool:
        """Its bytes are deleted or being deleted: it can no longer be read, kept or promoted."""
        return self.lifecycle_state in GONE_STATES

    def unused_since(self) -> datetime:
        return unused_since(
            self.last_accessed_at, self.kept_at, self.protected_at, self.pinned_until
        )


def unused_since(
    last_accessed_at: datetime,
    kept_at: datetime | None,
    protected_at: datetime | None,
    pinned_until: datetime | None,
) -> datetime:
    """When a version's unused time started: its last use, keep, or end of protection.

    A pin that has run out protected the version until it ran out, so it counts like a use
    at that moment; the scan only asks this of versions that are not protected now.
    """
    moments = [last_accessed_at, kept_at, protected_at, pinned_until]
    return max(moment for moment in moments if moment is not None)


class Artifact(models.Model):
    """Where (part of) a version's bytes live. A URI may name one object or a prefix."""

    version = models.ForeignKey(AssetVersion, on_delete=models.PROTECT, related_name="artifacts")
    name = models.CharField(max_length=200, help_text="Role or file name, e.g. model.joblib.")
    uri = models.CharField(max_length=2048)
    size_bytes = models.BigIntegerField()
    checksum = models.CharField(max_length=200)
    is_prefix = models.BooleanField(default=False)
    uploaded = models.BooleanField(
        default=False, help_text="Copied into the artifact root by modelyard (vs. referenced)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="artifact_unique_name")
        ]

    def __str__(self) -> str:
        return self.uri


class LineageEdge(models.Model):
    """`downstream` was made from `upstream` (a model trained on a data set version, …)."""

    class Relation(models.TextChoices):
        TRAINED_ON = "trained_on", "trained on"
        EVALUATED_ON = "evaluated_on", "evaluated on"
        DERIVED_FROM = "derived_from", "derived from"
        USES_FEATURES = "uses_features", "uses features of"

    downstream = models.ForeignKey(
        AssetVersion, on_delete=models.CASCADE, related_name="upstream_edges"
    )
    upstream = models.ForeignKey(
        AssetVersion, on_delete=models.PROTECT, related_name="downstream_edges"
    )
    relation = models.CharField(max_length=32, choices=Relation.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["downstream", "upstream", "relation"], name="lineage_unique_edge"
            )
        ]

    def __str__(self) -> str:
        return f"{self.downstream} {self.relation} {self.upstream}"


class Alias(models.Model):
    """`churn@production`: a movable name for one version. Moving it is a promotion."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(
        max_length=63, validators=[RegexValidator(ALIAS_PATTERN, "Use a lowercase name.")]
    )
    version = models.ForeignKey(AssetVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "aliases"
        constraints = [models.UniqueConstraint(fields=["asset", "name"], name="alias_unique_name")]

    def __str__(self) -> str:
        return f"{self.asset}@{self.name}"


# --- declared stores (registry/stores.py holds the rule that uses them) ----------------------


class DeclaredStore(models.Model):
    """A place operators let modelyard read (and maybe delete) for some or all teams.

    Nothing outside the artifact root and the declared stores is read for a user or deleted,
    whatever URI was registered. `uri` is kept normalised (registry/stores.py).
    """

    uri = models.CharField(
        max_length=1000, unique=True, help_text="URI prefix, e.g. s3://lake/models/"
    )
    all_teams = models.BooleanField(default=False, help_text="Every team may use it.")
    teams = models.ManyToManyField(
        "accounts.Team",
        blank=True,
        related_name="declared_stores",
        help_text="The teams that may use it, when not every team may.",
    )
    allow_delete = models.BooleanField(
        default=False, help_text="modelyard may delete versions' bytes under it."
    )
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["uri"]

    def __str__(self) -> str:
        return self.uri
