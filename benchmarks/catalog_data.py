"""A synthetic catalog registered through the service layer, as onboarding would.

Teams × models × versions, each version with one small uploaded artifact. `created_at`
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
        """Teams × models × versions close to `total` (rounded down to whole models)."""
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


def register_model_versions(task: tuple[int, int, float]) -> int:
    """Worker body: register every version of one model; returns how many."""
    from modelyard.registry import services
    from modelyard.registry.models import Asset

    asset_id, count, now_epoch = task
    asset = Asset.objects.select_related("team").get(pk=asset_id)
    now = datetime.fromtimestamp(now_epoch, tz=UTC)
    for created, last_used in history(asset_id, count, now):
        spec = services.VersionSpec(flavor="sklearn", metrics={"auc": 0.9},
                                    created_at=created, last_accessed_at=last_used)
        source = services.ArtifactSource(
            name="model.bin", stream=io.BytesIO(ARTIFACT_BYTES), size=len(ARTIFACT_BYTES)
        )
        services.register_version("system:benchmark", asset, spec, [source])
    return count


def _start_worker() -> None:
    import django

    django.setup()


def register_versions(asset_ids: list[int], per_model: int, workers: int) -> float:
    """Register `per_model` versions of every asset; returns the wall time in seconds."""
    from django.db import connections
    from django.utils import timezone

    connections.close_all()  # workers open their own; never share a socket across processes
    now_epoch = timezone.now().timestamp()
    tasks = [(asset_id, per_model, now_epoch) for asset_id in asset_ids]
    started = time.perf_counter()
    if workers <= 1:
        _report_progress(map(register_model_versions, tasks), len(tasks) * per_model)
        return time.perf_counter() - started
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_worker) as pool:
        done = pool.imap_unordered(register_model_versions, tasks, chunksize=1)
        _report_progress(done, len(tasks) * per_model)
    return time.perf_counter() - started


def _report_progress(done: Iterator[int], total: int) -> None:
    registered, next_report, started = 0, total // 10, time.perf_counter()
    for count in done:
        registered += count
        if registered >= next_report:
            rate = registered / (time.perf_counter() - started)
            print(f"  registered {registered:,}/{total:,} ({rate:,.0f}/s)", file=sys.stderr)
            next_report += max(1, total // 10)
