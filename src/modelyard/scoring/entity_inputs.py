"""Scoring a model that fetches its features: the input is entity files (keys + a time
column), and each row gets the features as they were at its time (point in time), built by
the feature store's training-set code. The result is one local Parquet file that the engine
then scores like any other input, keeping the entity columns next to the predictions.

Reading the raw event log needs the platform's database and stores, as `modelyard features
training-set` does, so this part runs in-process (Django set up by the CLI).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard import storage
from modelyard.features.references import FeatureRef, FeatureRefError, feature_inputs
from modelyard.scoring.inputs import ScoringError, list_inputs, read_table

FEATURES_FILE = "entities-with-features.parquet"


def features_of(version: dict[str, Any]) -> tuple[FeatureRef, ...] | None:
    """The features the model version's signature names, or None for a plain model."""
    names = [c["name"] for c in (version.get("signature") or {}).get("inputs", [])]
    try:
        return feature_inputs(names)
    except FeatureRefError as error:
        raise ScoringError(f"{version['ref']}: {error}") from None


def with_features(
    team: str,
    refs: tuple[FeatureRef, ...],
    uris: Sequence[str],
    time_column: str,
    workdir: Path,
    setup: Callable[[], None],
) -> tuple[str, tuple[str, ...]]:
    """The entity files with their point-in-time features, as one Parquet file's URI, and
    the entity columns (to keep in the output)."""
    setup()
    from modelyard.features.lookup import FeatureLookup
    from modelyard.lib.errors import ModelyardError

    entities = _read_entities(uris, workdir)
    try:
        table = FeatureLookup.resolve(team, refs).training_table(entities, time_column)
    except ModelyardError as error:
        raise ScoringError(str(error)) from None
    target = workdir / FEATURES_FILE
    pq.write_table(table, target)
    return storage.path_to_uri(target), tuple(entities.column_names)


def _read_entities(uris: Sequence[str], workdir: Path) -> pa.Table:
    tables = []
    for source in list_inputs(uris):
        tables.append(read_table(source))
    try:
        return pa.concat_tables(tables, promote_options="default")
    except pa.ArrowInvalid as error:
        raise ScoringError(f"The entity files do not share one schema: {error}") from None
