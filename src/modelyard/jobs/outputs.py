"""Versions a run registers through the SDK: stored, with lineage, recorded on the run."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.accounts.models import Team
from modelyard.jobs.models import Run
from modelyard.registry import services
from modelyard.registry.models import Asset, AssetVersion, Kind
from modelyard.registry.refs import parse_ref

if TYPE_CHECKING:
    from modelyard.sdk import Context


def register_output(
    ctx: Context,
    kind: str,
    name: str,
    paths: Sequence[Path | str],
    relation: str,
    metadata: dict[str, Any],
) -> str:
    """Upload local files or folders as a new version, with lineage to the run's inputs."""
    lineage = [(version, relation) for version in _upstream(ctx)]
    with ExitStack() as files:
        sources = [s for p in paths for s in _sources(Path(p), files)]
        return _register(ctx, kind, name, sources, lineage, metadata)


def register_uri(
    ctx: Context,
    kind: str,
    name: str,
    uri: str,
    lineage: list[tuple[AssetVersion, str]],
    **metadata: Any,
) -> str:
    """Register bytes already in a store (a scoring's output prefix) as a new version."""
    source = services.ArtifactSource(Path(uri.rstrip("/")).name or name, uri=uri)
    return _register(ctx, kind, name, [source], lineage, metadata)


def _register(
    ctx: Context,
    kind: str,
    name: str,
    sources: list[services.ArtifactSource],
    lineage: list[tuple[AssetVersion, str]],
    metadata: dict[str, Any],
) -> str:
    team = Team.objects.get(name=ctx.team)
    actor = f"run:{ctx.run_id}"
    asset = Asset.objects.filter(kind=kind, team=team, name=name).first()
    asset = asset or services.create_asset(actor, kind, team, name)
    spec = services.VersionSpec(lineage=lineage, **metadata)
    version = services.register_version(actor, asset, spec, sources)
    _record(ctx.run_id, version.ref)
    return version.ref


def _upstream(ctx: Context) -> list[AssetVersion]:
    refs = [*ctx.inputs(Kind.DATASET), *ctx.inputs(Kind.FEATURE_SET)]
    found = []
    for text in refs:
        ref = parse_ref(text)
        if ref.version is None:
            continue
        version = AssetVersion.objects.filter(
            asset__team__name=ref.team, asset__name=ref.name, version=ref.version
        ).first()
        if version is not None:
            found.append(version)
    return found


def _sources(path: Path, files: ExitStack) -> list[services.ArtifactSource]:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; write the output before registering it.")
    pairs = (
        [(p, p.relative_to(path).as_posix()) for p in sorted(path.rglob("*")) if p.is_file()]
        if path.is_dir()
        else [(path, path.name)]
    )
    return [
        services.ArtifactSource(
            name, stream=files.enter_context(p.open("rb")), size=p.stat().st_size
        )
        for p, name in pairs
    ]


def _record(run_id: int, ref: str) -> None:
    run = Run.objects.get(pk=run_id)  # one process per run: no concurrent writer
    run.outputs = [*run.outputs, ref]
    run.save(update_fields=["outputs"])
