"""Input files, their schema, and the plan: which rows make up each part.

A part is the unit of work, of progress and of resumption: one CSV file, or a run of row
groups of one Parquet file holding at most about `rows_per_part` rows. The plan depends
only on the input files, so a resumed run plans the same parts and skips those whose
output already exists.

Inputs are streamed where they lie (`storage.arrow`), never copied: planning reads each
Parquet file's footer (a CSV file's first block) for its schema and row groups, and each
worker reads only its part's row groups and columns. A scoring run needs local disk for
its output parts alone.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from modelyard import storage
from modelyard.lib.errors import InvalidInput
from modelyard.storage.arrow import arrow_filesystem

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
NUMERIC = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)


class ScoringError(InvalidInput):
    """The input, output or model cannot be scored as asked; the message says what to fix.
    An expected error: the CLI's boundary shows it as one line."""


@dataclass(frozen=True)
class Part:
    index: int
    uri: str
    format: str
    row_groups: tuple[int, ...] | None  # None: the whole file
    rows: int | None  # None: not known before reading (CSV)


@dataclass(frozen=True)
class InputFile:
    uri: str
    format: str  # parquet or csv


LocationCheck = Callable[[str], None]  # raises when a location may not be read


def list_inputs(
    uris: Sequence[str],
    partitions: Sequence[str] = (),
    check_location: LocationCheck | None = None,
) -> list[InputFile]:
    """Every .parquet/.csv object under the URIs (files or prefixes), in a stable order;
    for a `hive://` table, its Parquet files (of the partitions `KEY=VALUE` given)."""
    found = []
    for uri in uris:
        if storage.parse_uri(uri).scheme == "hive":
            found += hive_files(uri, partitions, check_location)
        elif partitions:
            raise ScoringError(f"--partition selects partitions of hive:// tables, not of {uri}.")
        else:
            found += files_under(uri)
    if not found:
        raise ScoringError(
            f"No .parquet or .csv file at {', '.join(uris)}; point --input at a file or a "
            "folder of them."
        )
    return found


def files_under(uri: str, fmt: str | None = None) -> list[InputFile]:
    """The data files under one URI: by their suffix, or all of them when `fmt` is known
    (a Hive table's files need not end in .parquet)."""
    try:
        objects = list(storage.get_store(uri).list_sizes(uri))
    except storage.StorageError as error:
        raise ScoringError(f"Cannot read the input {uri}: {error}") from None
    visible = [o for o in objects if not _hidden(o.relpath)]
    return [InputFile(o.uri, f) for o in visible if (f := fmt or _format(o.uri))]


def hive_files(
    uri: str, partitions: Sequence[str], check_location: LocationCheck | None
) -> list[InputFile]:
    """A Parquet table's files, read from its location once that passes the store check."""
    from modelyard.storage.hive import HiveStore, readable_location

    wanted = [_partition(text) for text in partitions]
    try:
        info = HiveStore().describe(uri)
        location = readable_location(info)
    except storage.StorageError as error:
        raise ScoringError(f"Cannot read the table {uri}: {error}") from None
    if "parquet" not in info.storage_format.lower():
        raise ScoringError(
            f"{uri} is stored as {info.storage_format or 'an unknown format'}; modelyard "
            "scores Parquet tables (write a Parquet copy, e.g. CREATE TABLE … STORED AS "
            "PARQUET AS SELECT …)."
        )
    if check_location is None:
        raise ScoringError(f"{uri}: a table's location is read only after a store check.")
    check_location(location)
    files = files_under(location, "parquet")
    chosen = [f for f in files if set(wanted) <= set(f.uri[len(location) :].split("/"))]
    if files and not chosen:
        raise ScoringError(f"{uri} has no partition {', '.join(wanted)}; check --partition.")
    return chosen


def _partition(text: str) -> str:
    key, separator, value = text.partition("=")
    if not separator or not key.strip() or not value:
        raise ScoringError(f"--partition {text!r} is not KEY=VALUE, e.g. day=2026-11-30.")
    return f"{key.strip().lower()}={value}"


def _format(uri: str) -> str | None:
    return FORMATS.get(Path(uri).suffix.lower())


def _hidden(relpath: str) -> bool:
    # Spark and Hadoop leave _SUCCESS, _metadata and .crc files beside the data.
    return any(part.startswith(("_", ".")) for part in relpath.split("/") if part)


def plan(
    inputs: Sequence[InputFile],
    columns: Sequence[str],
    rows_per_part: int,
    keep: Sequence[str] = (),
) -> list[Part]:
    """Parts over every input, checking each file's columns first (footers only): `columns`
    (the model's) must be numeric, `keep` (copied to the output) only present."""
    parts: list[Part] = []
    for source in inputs:
        with _opened(source.uri, source.format) as opened:
            check_columns(opened, source.format, columns, source.uri, keep)
            slices = list(_slices(opened, source.format, rows_per_part))
        for row_groups, rows in slices:
            parts.append(Part(len(parts), source.uri, source.format, row_groups, rows))
    return parts


def read_table(source: InputFile) -> pa.Table:
    """One input file whole (entity files: keys and times, small next to the features)."""
    with _opened(source.uri, source.format) as handle:
        if source.format == "parquet":
            return pq.read_table(handle)
        return pa_csv.read_csv(handle)


@contextmanager
def _opened(uri: str, fmt: str) -> Iterator[Any]:
    """A Parquet file open for random access, or a CSV stream, translated errors."""
    try:
        filesystem, path = arrow_filesystem(uri)
        opener = filesystem.open_input_file if fmt == "parquet" else filesystem.open_input_stream
        with opener(path) as handle:
            yield handle
    except (OSError, pa.ArrowException) as error:
        raise ScoringError(f"Cannot read {uri}: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _slices(
    handle: Any, fmt: str, rows_per_part: int
) -> Iterator[tuple[tuple[int, ...] | None, int | None]]:
    if fmt == "csv":
        yield None, None
        return
    metadata = pq.ParquetFile(handle).metadata
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


def schema_of(handle: Any, fmt: str, uri: str) -> pa.Schema:
    try:
        if fmt == "parquet":
            return pq.ParquetFile(handle).schema_arrow
        return pa_csv.open_csv(handle).schema
    except (pa.ArrowInvalid, OSError) as error:
        raise ScoringError(f"Cannot read {uri} as {fmt}: {_first_line(error)}") from None


def check_columns(
    handle: Any, fmt: str, columns: Sequence[str], uri: str, keep: Sequence[str] = ()
) -> None:
    """Fail before scoring anything when a file lacks a column or holds text in a model's."""
    schema = schema_of(handle, fmt, uri)
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


def read_batches(part: Part, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
    """The part's rows in batches, streamed from where the file lies."""
    with _opened(part.uri, part.format) as handle:
        if part.format == "csv":
            options = pa_csv.ConvertOptions(include_columns=list(columns))
            read = pa_csv.ReadOptions(block_size=max(1 << 20, batch_size * 8 * len(columns)))
            with pa_csv.open_csv(handle, read_options=read, convert_options=options) as reader:
                yield from reader
            return
        # pre_buffer: the row group's column chunks in a few large reads, not one per page.
        parquet = pq.ParquetFile(handle, pre_buffer=True)
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
