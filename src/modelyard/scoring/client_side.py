"""A scoring run driven from the CLI: the model and inputs resolved through the REST API,
the engine run here, the output registered as a data set version with its lineage."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from modelyard.client import Client, Json, Upstream
from modelyard.loading import model_source
from modelyard.scoring import engine, entity_inputs
from modelyard.scoring.inputs import ScoringError, list_inputs, plan, workdir_for


@dataclass(frozen=True)
class Request:
    model_ref: str
    input: str
    output_uri: str
    register_as: str | None
    workers: int
    batch_size: int
    rows_per_part: int
    keep: tuple[str, ...]
    engine: str = "local"
    spark_master: str = "local[*]"
    partitions: tuple[str, ...] = ()
    time_column: str = "timestamp"  # of entity files, for a model that fetches its features


def resolve_model(client: Client, ref: str, workdir: Path) -> tuple[Json, engine.ModelSpec]:
    version = client.get_version("model", ref)
    columns = [c["name"] for c in (version.get("signature") or {}).get("inputs", [])]
    if not columns:
        raise ScoringError(
            f"{version['ref']} declares no input columns; register it with a --signature."
        )
    directory = workdir / "model" / version["ref"].replace("/", "_").replace(":", "_")
    if not directory.is_dir():
        client.download("model", version["ref"], directory)  # counts as a use
    else:
        client.mark_used("model", version["ref"])
    names = [artifact["name"] for artifact in version["artifacts"]]
    source, flavor = model_source(directory, names, version["flavor"])
    return version, engine.ModelSpec(str(source), flavor, version["ref"], tuple(columns))


def resolve_input(client: Client, text: str) -> tuple[list[str], str | None]:
    """URIs to read, and the data set version they belong to (for lineage), if any."""
    if not text.startswith("dataset:"):
        return [text], None
    version = client.get_version("dataset", text.removeprefix("dataset:"))
    client.mark_used("dataset", version["ref"])
    return [artifact["uri"] for artifact in version["artifacts"]], version["ref"]


def prepare(
    client: Client, request: Request, django_setup: Callable[[], None] | None = None
) -> tuple[engine.Job, Json, str | None]:
    """The job; `django_setup` is called first when the model fetches its features (the
    entity files' features are read from the offline store in this process)."""
    workdir = workdir_for(request.output_uri)
    version, spec = resolve_model(client, request.model_ref, workdir)
    uris, dataset_ref = resolve_input(client, request.input)
    keep = request.keep
    team = version["ref"].partition("/")[0]
    refs = entity_inputs.features_of(version)
    if refs is not None:
        if django_setup is None:
            raise ScoringError(f"{version['ref']} fetches its features: score it with the CLI.")
        features_uri, entity_columns = entity_inputs.with_features(
            team, refs, uris, request.time_column, workdir, django_setup
        )
        uris = [features_uri]
        keep = (*entity_columns, *(c for c in keep if c not in entity_columns))
    # A Hive table's files are read for the model's team: only where its stores allow.
    inputs = list_inputs(uris, request.partitions, partial(client.check_usable, team))
    parts = plan(inputs, spec.columns, request.rows_per_part, keep)
    job = engine.Job(
        spec, tuple(parts), request.output_uri.rstrip("/"), str(workdir), request.batch_size, keep
    )
    return job, version, dataset_ref


@dataclass(frozen=True)
class Scored:
    parts: Sequence[Any]
    rows_this_run: int
    resumed: bool


def register_output(
    client: Client, request: Request, model: Json, dataset_ref: str | None, outcome: Scored
) -> Json | None:
    if not request.register_as:
        return None
    # Rows of the whole output: the plan knows them for Parquet; a resumed CSV run does not.
    rows = total_rows(outcome.parts)
    if rows is None and not outcome.resumed:
        rows = outcome.rows_this_run
    lineage = [Upstream("model", model["ref"], "derived_from")]
    if dataset_ref:
        lineage.append(Upstream("dataset", dataset_ref, "derived_from"))
    return client.register_version(
        "dataset",
        request.register_as,
        [request.output_uri.rstrip("/") + "/"],
        flavor="parquet",
        description=f"Scores of {model['ref']} over {request.input}",
        metrics={"rows": float(rows)} if rows is not None else {},
        tags={"scored_by": model["ref"]},
        lineage=lineage,
    )


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def total_rows(parts: Sequence[Any]) -> int | None:
    counts = [part.rows for part in parts]
    return None if any(c is None for c in counts) else sum(counts)
