"""Input files, their schema, and the plan: which rows make up each part.

A part is the unit of work, of progress and of resumption: one CSV file, or a run of row
groups of one Parquet file holding at most about `rows_per_part` rows. The plan depends
only on the input files, so a resumed run plans the same parts and skips those whose
output already exists.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from modelyard import storage

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
NUMERIC = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)


class ScoringError(Exception):
    """The input, output or model cannot be scored as asked; the message says what to fix."""


@dataclass(frozen=True)
class Part:
    index: int
    uri: str
    format: str
    row_groups: tuple[int, ...] | None  # None: the whole file
    rows: int | None  # None: not known before reading (CSV)


def list_inputs(uris: Sequence[str]) -> list[storage.ObjectInfo]:
    """Every .parquet/.csv object under the URIs (files or prefixes), in a stable order."""
    found = []
    for uri in uris:
        try:
            objects = list(storage.get_store(uri).list_sizes(uri))
        except storage.StorageError as error:
            raise ScoringError(f"Cannot read the input {uri}: {error}") from None
        found += [o for o in objects if _format(o.uri) and not _hidden(o.relpath)]
    if not found:
        raise ScoringError(
            f"No .parquet or .csv file at {', '.join(uris)}; point --input at a file or a "
            "folder of them."
        )
    return found


def _format(uri: str) -> str | None:
    return FORMATS.get(Path(uri).suffix.lower())


def _hidden(relpath: str) -> bool:
    # Spark and Hadoop leave _SUCCESS, _metadata and .crc files beside the data.
    return any(part.startswith(("_", ".")) for part in relpath.split("/") if part)


def local_path(uri: str, workdir: Path) -> Path:
    """A local file with the object's bytes: the file itself, or a copy fetched once."""
    parsed = storage.parse_uri(uri)
    if parsed.scheme == "file":
        return storage.uri_to_path(uri)
    target = workdir / hashlib.sha256(uri.encode()).hexdigest()[:24] / Path(uri).name
    if not target.exists():
        storage.get_store(uri).download(uri, target)
    return target


def plan(
    inputs: Sequence[storage.ObjectInfo],
    columns: Sequence[str],
    rows_per_part: int,
    workdir: Path,
    keep: Sequence[str] = (),
) -> list[Part]:
    """The parts; `columns` (the model's) must be numeric, `keep` (copied) only present."""
    parts: list[Part] = []
    for info in inputs:
        path = local_path(info.uri, workdir)
        fmt = _format(info.uri) or ""
        check_columns(path, fmt, columns, info.uri, keep)
        for row_groups, rows in _slices(path, fmt, rows_per_part):
            parts.append(Part(len(parts), info.uri, fmt, row_groups, rows))
    return parts


def _slices(
    path: Path, fmt: str, rows_per_part: int
) -> Iterator[tuple[tuple[int, ...] | None, int | None]]:
    if fmt == "csv":
        yield None, None
        return
    metadata = pq.ParquetFile(path).metadata
    group: list[int] = []
    rows = 0
    for index in range(metadata.num_row_groups):
        group.append(index)
        rows += metadata.row_group(index).num_rows
        if rows >= rows_per_part:
            yield tuple(group), rows
            group, rows = [], 0
    if group or metadata.num_row_groups == 0:
        yield tuple(group), rows


def schema_of(path: Path, fmt: str, uri: str) -> pa.Schema:
    try:
        if fmt == "parquet":
            return pq.read_schema(path)
        with pa_csv.open_csv(path) as reader:
            return reader.schema
    except (pa.ArrowInvalid, OSError) as error:
        raise ScoringError(f"Cannot read {uri} as {fmt}: {error}") from None


def check_columns(
    path: Path, fmt: str, columns: Sequence[str], uri: str, keep: Sequence[str] = ()
) -> None:
    """Fail before scoring anything when a file lacks a column or holds text in a model's."""
    schema = schema_of(path, fmt, uri)
    missing = [name for name in [*columns, *keep] if name not in schema.names]
    if missing:
        raise ScoringError(
            f"{uri} has no column {missing[0]!r}, which the model's signature or --keep needs "
            f"(it has {', '.join(schema.names[:20])})."
        )
    for name in columns:
        kind = schema.field(name).type
        if not any(test(kind) for test in NUMERIC):
            raise ScoringError(f"Column {name!r} of {uri} is {kind}, not numeric.")


def read_batches(
    path: Path, part: Part, columns: Sequence[str], batch_size: int
) -> Iterator[pa.RecordBatch]:
    if part.format == "csv":
        options = pa_csv.ConvertOptions(include_columns=list(columns))
        read = pa_csv.ReadOptions(block_size=max(1 << 20, batch_size * 8 * len(columns)))
        with pa_csv.open_csv(path, read_options=read, convert_options=options) as reader:
            yield from reader
        return
    parquet = pq.ParquetFile(path)
    yield from parquet.iter_batches(
        batch_size=batch_size, row_groups=list(part.row_groups or ()), columns=list(columns)
    )


def describe(parts: Sequence[Part]) -> list[dict[str, Any]]:
    return [asdict(part) for part in parts]


def workdir_for(output_uri: str) -> Path:
    digest = hashlib.sha256(output_uri.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"modelyard-score-{digest}"
    path.mkdir(parents=True, exist_ok=True)
    return path
