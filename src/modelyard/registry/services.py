"""Registering and changing catalog entries. One transaction per function, one audit row each.

Callers (API, CLI, tasks) check permission first; these functions assume it was checked.
"""

from __future__ import annotations

import dataclasses
import io
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from modelyard import storage
from modelyard.accounts.models import Team
from modelyard.audit.services import record
from modelyard.lib.errors import Conflict, Gone, InvalidInput, NotFound, from_storage
from modelyard.lib.events import publish_alias_moved
from modelyard.registry import protection, states, stores
from modelyard.registry.models import (
    ALIAS_PATTERN,
    Alias,
    Artifact,
    Asset,
    AssetVersion,
    Kind,
    LifecycleState,
    LineageEdge,
)
from modelyard.registry.signals import (
    alias_moved,
    deletion_failed,
    lineage_wanted,
    version_registered,
)

Actor = User | AnonymousUser | str | None


@dataclass
class ArtifactSource:
    """Bytes for a new version: either a stream to upload, or an existing URI to reference."""

    name: str
    uri: str | None = None
    stream: BinaryIO | None = None
    size: int | None = None
    progress: storage.ProgressCallback | None = None


@dataclass
class VersionSpec:
    description: str = ""
    flavor: str = ""
    signature: dict[str, Any] = field(default_factory=dict)
    input_example: list[Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    last_accessed_at: datetime | None = None
    # (upstream version, relation), e.g. (dataset version, "trained_on")
    lineage: list[tuple[AssetVersion, str]] = field(default_factory=list)


@dataclass
class _StoredArtifact:
    name: str
    info: storage.ObjectInfo
    uploaded: bool


# --- look-ups ------------------------------------------------------------------------------


def get_asset(kind: str, team_name: str, name: str) -> Asset:
    asset = (
        Asset.objects.select_related("team")
        .filter(kind=kind, team__name=team_name, name=name)
        .first()
    )
    if asset is None:
        label = Kind(kind).label.lower()
        raise NotFound(f"No {label} named '{team_name}/{name}'.")
    return asset


def get_version(asset: Asset, number: int) -> AssetVersion:
    version = asset.versions.select_related("asset__team").filter(version=number).first()
    if version is None:
        raise NotFound(f"{asset.ref} has no version {number} (latest is {asset.latest_version}).")
    return version


def resolve_alias(asset: Asset, alias: str) -> AssetVersion:
    found = (
        Alias.objects.select_related("version__asset__team").filter(asset=asset, name=alias).first()
    )
    if found is None:
        raise NotFound(f"{asset.ref} has no alias '{alias}'.")
    return found.version


# --- assets --------------------------------------------------------------------------------


@transaction.atomic
def create_asset(
    actor: Actor,
    kind: str,
    team: Team,
    name: str,
    *,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> Asset:
    asset = Asset(
        kind=kind,
        team=team,
        name=name,
        description=description,
        tags=tags or {},
        created_by=user_of(actor),
    )
    _validate(asset, exclude=["team", "created_by"])
    existing = Asset.objects.filter(kind=kind, team=team, name=name).first()
    if existing is not None:
        raise _duplicate(existing)
    try:
        with transaction.atomic():
            asset.save()
    except IntegrityError:  # lost a race with an identical create
        raise _duplicate(Asset.objects.get(kind=kind, team=team, name=name)) from None
    record(actor, f"{kind}.created", asset=asset, details={"name": name})
    return asset


def _duplicate(existing: Asset) -> Conflict:
    label = Kind(existing.kind).label.lower()
    return Conflict(
        f"Team '{existing.team.name}' already has a {label} named '{existing.name}' "
        f"(id {existing.pk}, {existing.latest_version} versions). Register a new version of it "
        "instead, or choose another name.",
        existing_id=existing.pk,
    )


@transaction.atomic
def update_asset(
    actor: Actor,
    asset: Asset,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    reason: str = "",
) -> Asset:
    changes = _apply_changes(asset, description=description, tags=tags)
    if changes:
        asset.save(update_fields=[*changes, "updated_at"])
        record(actor, f"{asset.kind}.updated", asset=asset, reason=reason, details=changes)
    return asset


# --- versions ------------------------------------------------------------------------------


def register_version(
    actor: Actor, asset: Asset, spec: VersionSpec, sources: Sequence[ArtifactSource]
) -> AssetVersion:
    """Store the bytes first, then write the rows in one transaction.

    Uploads go to a fresh, version-independent prefix, so a failed upload or a failed
    transaction leaves no row pointing at partial bytes; whatever was uploaded is removed.
    """
    _check_sources(sources)
    spec = _with_wanted_lineage(asset, spec)
    _check_lineage(spec.lineage)
    stores.check_references(asset.team, [source.uri for source in sources if source.uri])
    prefix = storage.join_uri(
        settings.ARTIFACT_ROOT, asset.team.name, asset.kind, asset.name, uuid.uuid4().hex
    )
    stored: list[_StoredArtifact] = []
    try:
        for source in sources:
            stored.append(_store(source, prefix))
        return _create_version_rows(actor, asset, spec, stored)
    except BaseException:
        _discard_uploads(stored)
        raise


def _with_wanted_lineage(asset: Asset, spec: VersionSpec) -> VersionSpec:
    """The spec with the lineage other apps add (or their refusal: signals.lineage_wanted)."""
    added: list[tuple[AssetVersion, str]] = []
    for _receiver, answer in lineage_wanted.send(sender=Asset, asset=asset, spec=spec):
        if isinstance(answer, list):
            added += answer
    if not added:
        return spec
    known = {(upstream.pk, relation) for upstream, relation in spec.lineage}
    fresh = [(u, r) for u, r in added if (u.pk, r) not in known]
    return dataclasses.replace(spec, lineage=[*spec.lineage, *fresh])


def _check_sources(sources: Sequence[ArtifactSource]) -> None:
    if not sources:
        raise InvalidInput("A version needs at least one artifact: a file to upload or a URI.")
    names = [source.name for source in sources]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInput(f"Artifact names must be unique; repeated: {', '.join(duplicates)}.")
    for source in sources:
        _check_artifact_name(source.name)
        if (source.uri is None) == (source.stream is None):
            raise InvalidInput(f"Artifact '{source.name}' needs exactly one of a URI or a file.")


def _check_artifact_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or len(name) > 200
        or name.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise InvalidInput(
            f"Artifact name {name!r} must be a relative path of at most 200 characters "
            "without '.' or '..' parts, e.g. 'model.joblib' or 'model/MLmodel'."
        )


def _check_lineage(lineage: Iterable[tuple[AssetVersion, str]]) -> None:
    for upstream, relation in lineage:
        if relation not in LineageEdge.Relation.values:
            raise InvalidInput(
                f"Unknown lineage relation '{relation}'; use one of: "
                f"{', '.join(LineageEdge.Relation.values)}."
            )
        if upstream.is_gone:
            raise InvalidInput(
                f"{upstream.ref} is {upstream.lifecycle_state} and cannot be a lineage source."
            )


def _store(source: ArtifactSource, prefix: str) -> _StoredArtifact:
    try:
        if source.uri is not None:
            return _StoredArtifact(
                source.name, storage.get_store(source.uri).stat(source.uri), False
            )
        assert source.stream is not None
        target = storage.join_uri(prefix, source.name)
        info = storage.get_store(target).put(
            target, source.stream, size=source.size, progress=source.progress
        )
        return _StoredArtifact(source.name, info, True)
    except storage.StorageError as error:
        raise from_storage(error, f"Artifact '{source.name}'", uri_given=True) from error


def _discard_uploads(stored: Iterable[_StoredArtifact]) -> None:
    for item in stored:
        if item.uploaded:
            storage.get_store(item.info.uri).delete(item.info.uri)


@transaction.atomic
def _create_version_rows(
    actor: Actor, asset: Asset, spec: VersionSpec, stored: Sequence[_StoredArtifact]
) -> AssetVersion:
    locked = Asset.objects.select_for_update().get(pk=asset.pk)
    locked.latest_version += 1
    locked.save(update_fields=["latest_version", "updated_at"])
    asset.latest_version = locked.latest_version
    version = _new_version(actor, asset, spec)
    Artifact.objects.bulk_create(_artifact_row(version, item) for item in stored)
    LineageEdge.objects.bulk_create(
        LineageEdge(downstream=version, upstream=upstream, relation=relation)
        for upstream, relation in spec.lineage
    )
    record(
        actor,
        f"{asset.kind}.version_registered",
        version=version,
        details={
            "version": version.version,
            "artifacts": [item.info.uri for item in stored],
            "bytes": sum(item.info.size for item in stored),
        },
    )
    transaction.on_commit(
        lambda: version_registered.send(
            AssetVersion, version_id=version.pk, kind=version.kind, flavor=version.flavor
        )
    )
    return version


def add_derived_artifact(actor: Actor, version: AssetVersion, name: str, payload: bytes) -> bool:
    """Attach bytes made from the version's own (an ONNX conversion); False if already there.

    The version's registered bytes stay as they were; the derived file is uploaded to a
    fresh prefix first and removed again if its row cannot be written.
    """
    _check_artifact_name(name)
    if version.artifacts.filter(name=name).exists():
        return False
    asset = version.asset
    prefix = storage.join_uri(
        settings.ARTIFACT_ROOT, asset.team.name, asset.kind, asset.name, uuid.uuid4().hex
    )
    stored = _store(ArtifactSource(name, stream=io.BytesIO(payload), size=len(payload)), prefix)
    try:
        return _add_artifact_row(actor, version, stored)
    except BaseException:
        _discard_uploads([stored])
        raise


@transaction.atomic
def _add_artifact_row(actor: Actor, version: AssetVersion, stored: _StoredArtifact) -> bool:
    locked = AssetVersion.objects.select_for_update().get(pk=version.pk)
    if locked.artifacts.filter(name=stored.name).exists():  # a concurrent run won
        transaction.on_commit(lambda: _discard_uploads([stored]))
        return False
    _artifact_row(locked, stored).save()
    record(
        actor,
        f"{locked.kind}.artifact_derived",
        version=locked,
        details={"name": stored.name, "uri": stored.info.uri, "bytes": stored.info.size},
    )
    return True


def _artifact_row(version: AssetVersion, item: _StoredArtifact) -> Artifact:
    return Artifact(
        version=version,
        name=item.name,
        uri=item.info.uri,
        size_bytes=item.info.size,
        checksum=item.info.checksum,
        is_prefix=item.info.is_prefix,
        uploaded=item.uploaded,
    )


def _new_version(actor: Actor, asset: Asset, spec: VersionSpec) -> AssetVersion:
    now = timezone.now()
    created_at = spec.created_at or now
    last_accessed_at = spec.last_accessed_at or created_at
    if created_at > now or last_accessed_at > now:
        raise InvalidInput("created_at and last_accessed_at cannot lie in the future.")
    if last_accessed_at < created_at:
        raise InvalidInput("last_accessed_at cannot be earlier than created_at.")
    version = AssetVersion(
        asset=asset,
        kind=asset.kind,
        team_id=asset.team_id,
        version=asset.latest_version,
        description=spec.description,
        flavor=spec.flavor,
        signature=spec.signature,
        input_example=spec.input_example,
        metrics=spec.metrics,
        params=spec.params,
        tags=spec.tags,
        created_at=created_at,
        last_accessed_at=last_accessed_at,
        lifecycle_changed_at=now,
        created_by=user_of(actor),
    )
    _validate(version, exclude=["asset", "created_by"])
    version.save()
    return version


@transaction.atomic
def update_version(
    actor: Actor,
    version: AssetVersion,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    reason: str = "",
) -> AssetVersion:
    """Edit what describes a version. Its bytes, metrics and lineage stay as registered."""
    _require_not_deleted(version)
    changes = _apply_changes(version, description=description, tags=tags)
    if changes:
        version.save(update_fields=list(changes))
        record(
            actor,
            f"{version.kind}.version_updated",
            version=version,
            reason=reason,
            details=changes,
        )
    return version


def _apply_changes(
    target: Asset | AssetVersion, **values: str | dict[str, str] | None
) -> dict[str, dict[str, Any]]:
    changes: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if value is not None and getattr(target, name) != value:
            changes[name] = {"from": getattr(target, name), "to": value}
            setattr(target, name, value)
    return changes


# --- aliases -------------------------------------------------------------------------------


@transaction.atomic
def set_alias(
    actor: Actor, asset: Asset, name: str, version: AssetVersion, reason: str = ""
) -> Alias:
    if version.asset_id != asset.pk:
        raise InvalidInput(f"Version {version.ref} does not belong to {asset.ref}.")
    # Locked, so a deletion being scheduled at the same moment either sees the alias or has
    # already made the version `deleting` (and the alias is refused).
    _require_not_deleted(AssetVersion.objects.select_for_update().get(pk=version.pk))
    current = Alias.objects.select_for_update().filter(asset=asset, name=name).first()
    previous = current.version.version if current else None
    if current and current.version_id != version.pk:
        protection.mark_protection_ended([current.version_id])
    alias = current or Alias(asset=asset, name=name)
    alias.version, alias.updated_by = version, user_of(actor)
    _validate(alias, exclude=["asset", "version", "updated_by"])
    alias.save()
    transaction.on_commit(lambda: publish_alias_moved(asset.pk))
    transaction.on_commit(
        lambda: alias_moved.send(
            Alias, version_id=version.pk, kind=asset.kind, asset_ref=asset.ref, alias=name
        )
    )
    record(
        actor,
        f"{asset.kind}.alias_moved",
        version=version,
        reason=reason,
        details={"alias": name, "from": previous, "to": version.version},
    )
    return alias


@transaction.atomic
def remove_alias(actor: Actor, asset: Asset, name: str, reason: str = "") -> None:
    alias = Alias.objects.select_for_update().filter(asset=asset, name=name).first()
    if alias is None:
        raise NotFound(f"{asset.ref} has no alias '{name}'.")
    record(
        actor,
        f"{asset.kind}.alias_removed",
        version=alias.version,
        reason=reason,
        details={"alias": name, "was": alias.version.version},
    )
    alias.delete()
    protection.mark_protection_ended([alias.version_id])
    transaction.on_commit(lambda: publish_alias_moved(asset.pk))


def check_alias_name(name: str) -> None:
    if not re.fullmatch(ALIAS_PATTERN, name):
        raise InvalidInput(
            f"{name!r} is not an alias name: use lowercase letters, digits, '_' or '-', "
            "starting with a letter (e.g. production)."
        )


# --- deletion ------------------------------------------------------------------------------


def schedule_deletion(actor: Actor, version: AssetVersion, reason: str) -> AssetVersion:
    """An owner deletes a version: the same rule and audit as the lifecycle's deletions.

    The row changes first and the bytes are removed by a worker on the `deletions` queue
    after commit; a periodic sweep re-queues anything the broker lost.
    """
    if not reason.strip():
        raise InvalidInput("Say why the version is deleted (reason); it goes in the audit trail.")
    if version.is_gone:
        return version
    result = states.schedule_deletions(actor, [version.pk], reason)
    if result.refused:
        why = protection.reasons(version)
        if not why:  # not protected: its bytes lie where modelyard may not delete
            raise Conflict(f"{version.ref} cannot be deleted: {result.refused[0].reason}")
        raise Conflict(
            f"{version.ref} is protected ({'; '.join(why)}); move its aliases or lift the "
            "pin, hold or the dependency first."
        )
    version.refresh_from_db()
    return version


def delete_bytes(version_id: int, actor: Actor = "system:deletion") -> int:
    """Remove every artifact's bytes, then tombstone the version. Safe to run twice.

    The bytes reclaimed are what the stores measured as they deleted, not the registered
    sizes (which the audit row keeps beside them as ``registered_bytes``). They are added
    to the row as each run learns them, so a run that fails partway keeps what it did
    free and the run that finishes adds the rest. A worker that dies between a store's
    delete and this update loses that run's figure: the re-run finds the bytes gone,
    counts 0 for them, and still finishes the tombstone.
    """
    version = AssetVersion.objects.filter(
        pk=version_id, lifecycle_state=LifecycleState.DELETING
    ).first()
    if version is None:  # already finished by another worker, or not scheduled
        return 0
    artifacts = list(version.artifacts.all())
    freed = 0
    try:
        # Outside the stores it may delete in, its artifacts or what they reach (a Hive
        # external table's location): nothing is deleted.
        if stores.refuse_deletion(version, actor, reach=True):
            return 0
        for artifact in artifacts:
            freed += storage.get_store(artifact.uri).delete(artifact.uri)
    except storage.StorageError as error:
        # Stays `deleting` with the reason visible; the sweep tries again later. What the
        # stores did free before failing counts, so a later run adds only the rest.
        record_deletion_failure(version_id, error, actor, freed=freed + error.bytes_freed)
        raise
    with transaction.atomic():
        claimed = AssetVersion.objects.filter(
            pk=version_id, lifecycle_state=LifecycleState.DELETING
        ).update(
            deletion_error="",
            lifecycle_state=LifecycleState.DELETED,
            lifecycle_changed_at=timezone.now(),
            deleted_at=timezone.now(),
            bytes_reclaimed=F("bytes_reclaimed") + freed,
        )
        if claimed:
            reclaimed = AssetVersion.objects.values_list("bytes_reclaimed", flat=True)
            registered = sum(artifact.size_bytes for artifact in artifacts)
            record(
                actor,
                f"{version.kind}.deleted",
                version=version,
                details={
                    "bytes_reclaimed": reclaimed.get(pk=version_id),
                    "registered_bytes": registered,
                },
            )
    return freed if claimed else 0


# The sweep runs every 10 minutes: the first retry comes with it, later ones further apart.
FIRST_DELETION_RETRY = timedelta(minutes=10)
LAST_DELETION_RETRY = timedelta(hours=6)


def deletion_retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a deletion is tried again."""
    doubled: timedelta = FIRST_DELETION_RETRY * 2 ** min(max(0, attempts - 1), 16)
    return min(doubled, LAST_DELETION_RETRY)


@transaction.atomic
def record_deletion_failure(
    version_id: int, error: Exception, actor: Actor, *, freed: int = 0
) -> None:
    """Count the failed attempt, show its error and the next try, and tell who must know.

    A refusal the store marks `permanent` (`StorageError.permanent`) will not go away by
    retrying; the lifecycle mails the team and
    the admins at once, from the `deletion_failed` signal sent inside this transaction.
    """
    version = (
        AssetVersion.objects.select_for_update()
        .select_related("asset__team")
        .filter(pk=version_id, lifecycle_state=LifecycleState.DELETING)
        .first()
    )
    if version is None:
        return
    permanent = isinstance(error, storage.StorageError) and error.permanent
    version.deletion_attempts += 1
    version.bytes_reclaimed += freed
    version.deletion_error = str(error)[:2000]
    version.next_deletion_attempt_at = timezone.now() + deletion_retry_delay(
        version.deletion_attempts
    )
    version.save(
        update_fields=[
            "deletion_attempts",
            "bytes_reclaimed",
            "deletion_error",
            "next_deletion_attempt_at",
        ]
    )
    details = {
        "attempt": version.deletion_attempts,
        "error": version.deletion_error,
        "permanent": permanent,
        "next_attempt_at": version.next_deletion_attempt_at.isoformat(),
    }
    record(actor, f"{version.kind}.deletion_failed", version=version, details=details)
    deletion_failed.send(
        sender=AssetVersion,
        version_id=version.pk,
        error=version.deletion_error,
        attempts=version.deletion_attempts,
        permanent=permanent,
        next_attempt_at=version.next_deletion_attempt_at,
    )


def _require_not_deleted(version: AssetVersion) -> None:
    if version.is_gone:
        raise Gone(f"{version.ref} is {version.lifecycle_state}; its bytes are gone or going.")


# --- helpers -------------------------------------------------------------------------------


def user_of(actor: Actor) -> User | None:
    if actor is None or isinstance(actor, str) or not actor.is_authenticated:
        return None
    return actor


def _validate(instance: Asset | AssetVersion | Alias, exclude: list[str]) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        message = "; ".join(f"{f}: {' '.join(m)}" for f, m in error.message_dict.items())
        raise InvalidInput(message, fields=error.message_dict) from None
