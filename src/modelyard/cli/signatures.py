"""Signatures without hand-written JSON: `--signature-from FILE` reads the input names and
types from a sample of the data (CSV or Parquet), and the format is spelled out once here
for `--help`.

The format, as stored with a version:

    {"inputs":  [{"name": "age", "type": "double"}, ...],                 (models)
     "outputs": [{"name": "probability", "type": "double", "shape": [-1, 2]}, ...],
     "columns": [{"name": "age", "type": "double"}, ...]}                (data and feature sets)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

SIGNATURE_HELP = (
    "The version's schema as JSON (or @path to a JSON file): "
    '{"inputs": [{"name": "age", "type": "double"}, ...], "outputs": [{"name": "probability", '
    '"type": "double", "shape": [-1, 2]}, {"name": "label", "type": "long", "shape": [-1]}]} '
    "for models (types: double, float, long, int, boolean; -1 is any number of rows), "
    '{"columns": [...]} for data and feature sets. With --signature-from, give only what the '
    'sample cannot tell, e.g. the outputs: {"outputs": [...]}. A model input named '
    "VIEW:FEATURE (or TEAM/VIEW:FEATURE for another team's view) is fetched from the feature "
    "store by entity id when the model is served or scored; name features in every input or "
    "in none."
)
SIGNATURE_FROM_HELP = (
    "A CSV or Parquet sample of the input data (a few rows will do): its column names and "
    "types become the signature's inputs (models) or columns (data and feature sets)."
)


def columns_of(path: Path) -> list[dict[str, Any]]:
    """The name and signature type of each column of a CSV or Parquet file."""
    # Imported here: numpy and pyarrow would slow every CLI command's start.
    from modelyard.loading.signatures import columns_of_schema

    return columns_of_schema(_schema(path))


def _schema(path: Path) -> Any:
    import pyarrow.csv
    import pyarrow.parquet

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pyarrow.parquet.read_schema(path)
        if suffix in (".csv", ".tsv"):
            options = pyarrow.csv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            with pyarrow.csv.open_csv(path, parse_options=options) as reader:
                return reader.schema
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        message = f"cannot read {path}: {error}"
        raise click.BadParameter(message, param_hint="--signature-from") from None
    raise click.BadParameter(
        f"{path}: give a .csv, .tsv or .parquet file.", param_hint="--signature-from"
    )


def merged(kind: str, given: dict[str, Any], sample: Path | None) -> dict[str, Any]:
    """--signature with the sample's columns added as inputs (models) or columns (the rest)."""
    if sample is None:
        return given
    key = "inputs" if kind == "model" else "columns"
    if key in given:
        raise click.BadParameter(
            f"both --signature and --signature-from give the {key}; keep one of them.",
            param_hint="--signature-from",
        )
    return {**given, key: columns_of(sample)}
