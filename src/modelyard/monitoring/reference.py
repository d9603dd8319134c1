"""A model version's reference data for drift: what it was trained on (lineage), else the
gate's evaluation data; read once into a profile per input feature (columns.py), and, for
prediction drift, per output of the version's predictions on that data (in a sandbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelyard.deployment.models import GateSettings
from modelyard.lib.errors import InvalidInput
from modelyard.monitoring import columns
from modelyard.monitoring.models import ReferenceProfile
from modelyard.registry.models import AssetVersion, LineageEdge
from modelyard.serving.loading import fetch_files, sandboxed_version
from modelyard.serving.signature import Signature

OUTPUT_ROWS = 50_000


def reference_version(version: AssetVersion) -> AssetVersion | None:
    edge = (
        LineageEdge.objects.filter(downstream=version, relation=LineageEdge.Relation.TRAINED_ON)
        .select_related("upstream")
        .order_by("pk")
        .first()
    )
    if edge is not None and not edge.upstream.is_gone:
        return edge.upstream
    gate = GateSettings.objects.filter(asset_id=version.asset_id).first()
    return gate.evaluation_data if gate else None


def profile_for(version: AssetVersion) -> ReferenceProfile:
    """The version's profile, built from its reference data the first time it is asked."""
    existing = ReferenceProfile.objects.filter(version=version).first()
    if existing is not None:
        return existing
    source = reference_version(version)
    if source is None:
        raise InvalidInput(
            f"{version.ref} has no reference data for drift: register it with a trained_on "
            "data set (lineage) or set the gate's evaluation data."
        )
    signature = Signature.parse(version.signature)
    table = _reference_rows(source, signature)
    features = {
        column.name: _column(table[:, position], column.type, source.ref, column.name)
        for position, column in enumerate(signature.inputs)
    }
    profile, _ = ReferenceProfile.objects.get_or_create(
        version=version, defaults={"source": source.ref, "rows": len(table), "features": features}
    )
    return profile


def outputs_profile_for(version: AssetVersion) -> ReferenceProfile:
    """The profile with the version's outputs on its reference data, predicted the first time
    it is asked (a prediction-drift monitor), on at most OUTPUT_ROWS rows of it."""
    profile = profile_for(version)
    if profile.outputs is not None:
        return profile
    source = reference_version(version)
    if source is None or source.ref != profile.source:
        raise InvalidInput(f"The reference data {profile.source} of {version.ref} is gone.")
    table = _reference_rows(source, Signature.parse(version.signature))
    picked = np.random.default_rng(0).permutation(len(table))[:OUTPUT_ROWS]
    with sandboxed_version(version) as loaded:
        predicted = columns.output_columns(loaded.predictor.predict(table[np.sort(picked)]))
    if not predicted:
        raise InvalidInput(f"{version.ref} gives no numeric output to watch for drift.")
    profile.outputs = {
        name: _column(values, "double", source.ref, name) for name, values in predicted.items()
    }
    profile.output_rows = len(picked)
    profile.save(update_fields=["outputs", "output_rows"])
    return profile


def _reference_rows(source: AssetVersion, signature: Signature) -> Any:
    """The reference's input columns in signature order, as one float matrix."""
    table = _read_table(fetch_files(source), source.ref)
    missing = [name for name in signature.names if name not in table]
    if missing:
        raise InvalidInput(
            f"Reference data {source.ref} lacks input column(s) {', '.join(missing)}."
        )
    try:
        return np.column_stack(
            [np.asarray(table[name], dtype=np.float64) for name in signature.names]
        )
    except (TypeError, ValueError):
        raise InvalidInput(
            f"Reference data {source.ref} has non-numeric values in the model's input columns."
        ) from None


def _column(values: Any, declared_type: str, ref: str, name: str) -> columns.Column:
    try:
        return columns.profile(values, declared_type)
    except ValueError as error:
        raise InvalidInput(f"Reference data {ref}, column {name}: {error}.") from None


def _read_table(directory: Path, ref: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    files = sorted(p for p in directory.rglob("*") if p.suffix in (".csv", ".parquet"))
    if not files:
        raise InvalidInput(f"Reference data {ref} holds no .csv or .parquet file.")
    tables = [pcsv.read_csv(p) if p.suffix == ".csv" else pq.read_table(p) for p in files]
    return pa.concat_tables(tables, promote_options="default").to_pydict()  # type: ignore[no-any-return]
