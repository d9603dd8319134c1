"""A synthetic catalog registered through the service layer, as onboarding would.

Teams x models x versions, each version with one small artifact: an existing file:// URI
it references (onboarding an existing store; the default) or bytes it uploads. `created_at`
spreads over the past 400 days (an onboarded history) and `last_accessed_at` is mostly
recent, so "unused for 60 days" selects a minority, as in a registry that is in use.
Versions are registered by up to N worker processes, each owning whole models, so no two
workers ever contend for the same asset row lock.
"""

from __future__ import annotations

import io
import multiprocessing
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.registry.services import ArtifactSource

HISTORY_DAYS = 400
# Mean age of the last use; with it about one version in nine is unused for 60 days.
MEAN_IDLE_DAYS = 30.0
ARTIFACT_BYTES = b"modelyard benchmark artifact\n" * 8


@dataclass(frozen=True)
class Layout:
    teams: int
    models_per_team: int
    versions_per_model: int

    @classmethod
    def for_total(cls, total: int, teams: int = 20, per_model: int = 100) -> Layout:
        """Teams x models x versions close to `total` (rounded down to whole models)."""
        per_model = max(1, min(per_model, total // teams))
        models = max(1, total // (teams * per_model))
        return cls(teams, models, per_model)

    @property
    def total(self) -> int:
        return self.teams * self.models_per_team * self.versions_per_model


def team_name(index: int) -> str:
    return f"team-{index:02d}"


def model_name(index: int) -> str:
    return f"model-{index:03d}"


def create_assets(layout: Layout) -> list[int]:
    """Teams and models through the services; returns the model ids in creation order."""
    from modelyard.accounts.services import create_team
    from modelyard.registry import services
    from modelyard.registry.models import Kind

    asset_ids: list[int] = []
    for team_index in range(layout.teams):
        team = create_team("system:benchmark", team_name(team_index))
        for model_index in range(layout.models_per_team):
            asset = services.create_asset(
                "system:benchmark", Kind.MODEL, team, model_name(model_index)
            )
            asset_ids.append(asset.pk)
    return asset_ids


def history(seed: int, count: int, now: datetime) -> Iterator[tuple[datetime, datetime]]:
    """(created_at, last_accessed_at) of one model's versions, oldest version first."""
    rng = random.Random(seed)
    start = now - timedelta(days=rng.uniform(30, HISTORY_DAYS))
    span = (now - start).total_seconds()
    offsets = sorted(rng.uniform(0, span) for _ in range(count))
    for offset in offsets:
        created = start + timedelta(seconds=offset)
        idle = timedelta(days=rng.expovariate(1 / MEAN_IDLE_DAYS))
        yield created, max(created, now - idle)


@dataclass(frozen=True)
class Batch:
    """One worker task: every version of one model."""

    asset_id: int
    versions: int
    now_epoch: float
    # Reference this existing file (onboarding) instead of uploading bytes.
    existing_uri: str | None = None


def existing_store(home: Path) -> str:
    """A file already in a declared store, as onboarding finds it; returns its file:// URI.

    The store sits beside MODELYARD_HOME: a store may not overlap it (registry/stores.py).
    """
    from modelyard.registry.stores import declare_store

    store = home.parent / f"{home.name}-existing-store"
    path = store / "model.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ARTIFACT_BYTES)
    declare_store("system:benchmark", store.as_uri())
    return path.as_uri()


def artifact_source(batch: Batch) -> ArtifactSource:
    from modelyard.registry.services import ArtifactSource

    if batch.existing_uri:
        return ArtifactSource(name="model.bin", uri=batch.existing_uri)
    stream = io.BytesIO(ARTIFACT_BYTES)
    return ArtifactSource(name="model.bin", stream=stream, size=len(ARTIFACT_BYTES))


def register_model_versions(batch: Batch) -> int:
    """Worker body: register every version of one model; returns how many."""
    from modelyard.registry import services
    from modelyard.registry.models import Asset

    asset = Asset.objects.select_related("team").get(pk=batch.asset_id)
    now = datetime.fromtimestamp(batch.now_epoch, tz=UTC)
    for created, last_used in history(batch.asset_id, batch.versions, now):
        spec = services.VersionSpec(
            flavor="sklearn", metrics={"auc": 0.9}, created_at=created, last_accessed_at=last_used
        )
        services.register_version("system:benchmark", asset, spec, [artifact_source(batch)])
    return batch.versions


def _start_worker() -> None:
    import django

    django.setup()


def register_versions(
    asset_ids: list[int], per_model: int, workers: int, existing_uri: str | None = None
) -> float:
    """Register `per_model` versions of every asset; returns the wall time in seconds."""
    from django.db import connections
    from django.utils import timezone

    connections.close_all()  # workers open their own; never share a socket across processes
    now_epoch = timezone.now().timestamp()
    batches = [Batch(asset_id, per_model, now_epoch, existing_uri) for asset_id in asset_ids]
    total = len(batches) * per_model
    started = time.perf_counter()
    if workers <= 1:
        _report_progress(map(register_model_versions, batches), total)
        return time.perf_counter() - started
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_worker) as pool:
        _report_progress(pool.imap_unordered(register_model_versions, batches), total)
    return time.perf_counter() - started


def _report_progress(done: Iterator[int], total: int) -> None:
    registered, next_report, started = 0, total // 10, time.perf_counter()
    for count in done:
        registered += count
        if registered >= next_report:
            rate = registered / (time.perf_counter() - started)
            print(f"  registered {registered:,}/{total:,} ({rate:,.0f}/s)", file=sys.stderr)
            next_report += max(1, total // 10)
