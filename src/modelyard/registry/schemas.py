"""Request and response bodies of the registry API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from modelyard.api.types import StoredDatetime, VersionNumber
from modelyard.registry.models import LineageEdge


class AssetIn(Schema):
    team: str
    name: str = Field(max_length=128)
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class AssetPatch(Schema):
    description: str | None = None
    tags: dict[str, str] | None = None
    reason: str = ""


class AssetOut(Schema):
    id: int
    kind: str
    team: str
    name: str
    ref: str
    description: str
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime
    latest_version: int
    aliases: dict[str, int]


class LineageIn(Schema):
    kind: str = Field(description="model, dataset or featureset")
    ref: str = Field(description="TEAM/NAME:VERSION of the upstream version")
    relation: str = LineageEdge.Relation.TRAINED_ON


class ArtifactIn(Schema):
    name: str = Field(description="Relative name within the version, e.g. model.joblib")
    uri: str = Field(description="Existing file://, s3://… object or prefix; not copied")


class VersionMetadata(Schema):
    description: str = ""
    flavor: str = Field("", max_length=64)
    signature: dict[str, Any] = Field(default_factory=dict)
    input_example: list[Any] | None = Field(
        None, description="Models: a few input rows for the promotion gate's signature check"
    )
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    created_at: StoredDatetime | None = Field(None, description="When onboarding history; else now")
    last_accessed_at: StoredDatetime | None = None
    lineage: list[LineageIn] = Field(default_factory=list)


class VersionIn(VersionMetadata):
    artifacts: list[ArtifactIn] = Field(min_length=1)


class UploadMetadata(VersionMetadata):
    artifacts: list[ArtifactIn] = Field(default_factory=list)
    upload_names: list[str] | None = Field(
        None, description="Artifact name for each uploaded file, in order; default: file name"
    )


class VersionPatch(Schema):
    description: str | None = None
    tags: dict[str, str] | None = None
    reason: str = ""


class ArtifactOut(Schema):
    id: int
    name: str
    uri: str
    size_bytes: int
    checksum: str
    is_prefix: bool
    uploaded: bool


class VersionSummary(Schema):
    id: int
    kind: str
    team: str
    name: str
    ref: str
    version: int
    flavor: str
    metrics: dict[str, float]
    tags: dict[str, str]
    created_at: datetime
    last_accessed_at: datetime
    lifecycle_state: str
    size_bytes: int
    delete_on: datetime | None = Field(
        description="When the lifecycle will delete the version (from the policy in force "
        "and the notices sent); null when no deletion is scheduled"
    )
    deletion_error: str | None = Field(
        description="While deleting: why the last attempt to delete the bytes failed"
    )
    deletion_attempts: int = Field(description="Failed attempts to delete the bytes")
    next_deletion_attempt_at: datetime | None = Field(
        description="While deleting: when the next attempt is made"
    )


class LineageOut(Schema):
    kind: str
    ref: str
    relation: str


class VersionOut(VersionSummary):
    description: str
    signature: dict[str, Any]
    input_example: list[Any] | None
    params: dict[str, Any]
    registered_at: datetime
    created_by: str | None
    lifecycle_changed_at: datetime
    deleted_at: datetime | None
    bytes_reclaimed: int
    deletion_error: str = Field(
        "", description="Why the bytes are not (yet) deleted: a store error or a refusal"
    )
    aliases: list[str]
    protected_by: list[str] = Field(
        description="Why the lifecycle and owners may not delete it: its aliases, pin, "
        "hold, or the protected versions that depend on it (empty: not protected)."
    )
    artifacts: list[ArtifactOut]
    upstream: list[LineageOut]
    downstream: list[LineageOut]


class FileOut(Schema):
    path: str
    size_bytes: int
    checksum: str


class AliasIn(Schema):
    version: VersionNumber
    reason: str = ""


class AliasOut(Schema):
    name: str
    version: int
    updated_at: datetime


class DeletionOut(Schema):
    ref: str
    lifecycle_state: str
