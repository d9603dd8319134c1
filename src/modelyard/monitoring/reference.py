"""A model version's reference data for drift: what it was trained on (lineage), else the
gate's evaluation data; read once into a profile (percentile bins per input feature)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelyard.deployment.models import GateSettings
from modelyard.lib.errors import InvalidInput
from modelyard.monitoring import stats
from modelyard.monitoring.models import ReferenceProfile
from modelyard.registry.models import AssetVersion, LineageEdge
from modelyard.serving.loading import fetch_files
from modelyard.serving.signature import Signature


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
    names = Signature.parse(version.signature).names
    table = _read_table(fetch_files(source), source.ref)
    missing = [name for name in names if name not in table]
    if missing:
        raise InvalidInput(
            f"Reference data {source.ref} lacks input column(s) {', '.join(missing)}."
        )
    features = {
        name: stats.reference_profile(np.asarray(table[name], dtype=np.float64)) for name in names
    }
    rows = len(next(iter(table.values()), []))
    profile, _ = ReferenceProfile.objects.get_or_create(
        version=version, defaults={"source": source.ref, "rows": rows, "features": features}
    )
    return profile


def _read_table(directory: Path, ref: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    files = sorted(p for p in directory.rglob("*") if p.suffix in (".csv", ".parquet"))
    if not files:
        raise InvalidInput(f"Reference data {ref} holds no .csv or .parquet file.")
    tables = [pcsv.read_csv(p) if p.suffix == ".csv" else pq.read_table(p) for p in files]
    return pa.concat_tables(tables, promote_options="default").to_pydict()  # type: ignore[no-any-return]
