"""Commands modelyard ships, for `program: modelyard.builtins` in a modelyard.yaml.

    project: churn-scoring
    team: growth
    program: modelyard.builtins
    commands:
      score:
        on:
          - dataset_version_created: {dataset: events}
        args:
          model: growth/churn@production
          output: s3://lake/scores/churn          # one folder per input version below it
          register: churn-scores                  # a data set of the team (optional)

`score` scores each data set version that triggered the run (or `args.input`, a URI)
with the model, exactly as `modelyard score` does, reporting rows as the run's progress.

The feature store's background work runs the same way, under the jobs' caps, for the
run's team (features/compaction.py, services.rebuild_tiles):

      compact:
        cron: "0 3 * * *"
        args: {source: clicks}                    # every day folder of its raw event log
      backfill:
        args: {view: user_activity}               # its online store rebuilt from the log
"""

from __future__ import annotations

from typing import Any

from modelyard import sdk, storage
from modelyard.registry import services, stores
from modelyard.registry.access import record_access, tracker
from modelyard.registry.models import AssetVersion, Kind
from modelyard.registry.refs import parse_ref
from modelyard.scoring import engine
from modelyard.scoring.inputs import LocationCheck, list_inputs, plan, workdir_for
from modelyard.serving.loading import version_source


def score(ctx: sdk.Context) -> None:
    model = _version(Kind.MODEL, _required(ctx, "model"))
    sources: list[tuple[AssetVersion | None, str | None]] = [
        (_version(Kind.DATASET, ref), None) for ref in ctx.inputs(Kind.DATASET)
    ]
    if not sources:
        sources = [(None, _required(ctx, "input"))]
    for dataset, uri in sources:
        _score_one(ctx, model, dataset, uri)
    tracker().flush()  # this process ends with the run


def compact_features(ctx: sdk.Context) -> None:
    """Merge the small files of each day of a source's raw event log; days as progress."""
    from modelyard.features import compaction
    from modelyard.features import services as features

    source = features.get_source(ctx.team, _required(ctx, "source"))
    done = compaction.compact(source, progress=lambda day, days: ctx.progress(day, days))
    ctx.log.info(
        "Compacted %d day(s) of %s: %d files into %d, %d events",
        done.days,
        source,
        done.files_merged,
        done.days,
        done.events,
    )


def backfill_features(ctx: sdk.Context) -> None:
    """Rebuild a view's online store from its source's raw event log."""
    from django.db import transaction

    from modelyard.features import services as features

    view = features.get_view(ctx.team, _required(ctx, "view"))
    ctx.progress(0, 1)
    with transaction.atomic():
        features.rebuild_tiles(view)
    ctx.progress(1, 1)
    ctx.log.info("Rebuilt the online store of %s from its raw event log", view.ref)


def _required(ctx: sdk.Context, name: str) -> str:
    if not ctx.args.get(name):
        raise ValueError(f"The score command needs args.{name} in modelyard.yaml.")
    return ctx.args[name]


def _version(kind: str, text: str) -> AssetVersion:
    ref = parse_ref(text)
    asset = services.get_asset(kind, ref.team, ref.name)
    if ref.alias:
        return services.resolve_alias(asset, ref.alias)
    return services.get_version(asset, ref.version or asset.latest_version)


def _score_one(
    ctx: sdk.Context, model: AssetVersion, dataset: AssetVersion | None, uri: str | None
) -> None:
    name = dataset.ref if dataset else f"run-{ctx.run_id}"
    output = storage.join_uri(_required(ctx, "output"), name.replace("/", "_").replace(":", "-"))
    uris = [a.uri for a in dataset.artifacts.all()] if dataset else [uri or ""]
    stores.check_job_uris(ctx.team, [*uris, output])  # read and written for the team
    job = _job(model, uris, output, lambda location: stores.check_job_uris(ctx.team, [location]))
    total = sum(part.rows or 0 for part in job.parts) or None
    ctx.log.info("Scoring %s with %s into %s (%d parts)", name, model.ref, output, len(job.parts))
    outcome = engine.run(job, workers=1, progress=lambda rows, _: ctx.progress(rows, total))
    ctx.log.info("Scored %d rows in %.1f s", outcome.rows, outcome.seconds)
    for used in (model, dataset):
        if used is not None:
            record_access(used.pk)
    if ctx.args.get("register"):
        _register(ctx, model, dataset, output, total)


def _job(
    model: AssetVersion, uris: list[str], output: str, check_location: LocationCheck
) -> engine.Job:
    columns = tuple(c["name"] for c in (model.signature or {}).get("inputs", []))
    if not columns:
        raise ValueError(f"{model.ref} declares no input columns; register it with a signature.")
    source, flavor = version_source(model)
    spec = engine.ModelSpec(str(source), flavor, model.ref, columns)
    workdir = workdir_for(output)
    parts = plan(list_inputs(uris, (), check_location), columns, 250_000)
    return engine.Job(spec, tuple(parts), output, str(workdir))


def _register(
    ctx: sdk.Context,
    model: AssetVersion,
    dataset: AssetVersion | None,
    output: str,
    rows: int | None,
) -> None:
    lineage: list[tuple[AssetVersion, str]] = [(model, "derived_from")]
    if dataset is not None:
        lineage.append((dataset, "derived_from"))
    metadata: dict[str, Any] = {"metrics": {"rows": float(rows)}} if rows is not None else {}
    from modelyard.jobs.outputs import register_uri

    register_uri(
        ctx,
        Kind.DATASET,
        ctx.args["register"],
        output + "/",
        lineage,
        flavor="parquet",
        tags={"scored_by": model.ref},
        **metadata,
    )
