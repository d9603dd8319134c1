"""The storage interface every backend implements, plus helpers they share."""

from __future__ import annotations

import abc
import builtins
import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

from modelyard.storage.errors import StorageError

CHUNK_SIZE = 8 * 1024 * 1024
# Marks files that are still being written, so listings can skip them.
TEMP_SUFFIX = ".modelyard-tmp"

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just transferred."""


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object, or about every object under a prefix.

    ``checksum`` is ``sha256:<hex>`` when the store knows the SHA-256 of the bytes,
    otherwise a weaker store-specific value such as ``etag:<etag>``. For a prefix it is
    ``manifest-sha256:<hex>`` (see ``manifest_checksum``). ``relpath`` is set by
    ``Store.list``: the path relative to the listed prefix, ``""`` for the object itself.
    """

    uri: str
    size: int
    checksum: str
    is_prefix: bool = False
    relpath: str = ""


class Store(abc.ABC):
    """A place to keep objects, addressed by URI; each backend serves one scheme.

    A URI names either one object or a prefix (a directory): every object whose URI
    starts with it followed by ``/``. Methods that take a prefix treat it recursively.
    Implementations must be safe to share between threads: ``get_store`` caches one
    instance per scheme.
    """

    scheme: ClassVar[str]

    @abc.abstractmethod
    def exists(self, uri: str) -> bool:
        """Return whether an object or a non-empty prefix exists at ``uri``.

        False exactly when ``stat`` would raise ObjectNotFound for a missing object;
        a missing bucket or an unreachable store still raises.
        """

    @abc.abstractmethod
    def stat(self, uri: str) -> ObjectInfo:
        """Describe the object at ``uri``, or the prefix if no object has that name.

        Raises ObjectNotFound when there is neither. Never downloads an object whose
        store already records a checksum.
        """

    def size(self, uri: str) -> int:
        """Return the size in bytes of the object, or of everything under the prefix."""
        return self.stat(uri).size

    @abc.abstractmethod
    def list(self, uri: str) -> Iterator[ObjectInfo]:
        """Yield every object under the prefix ``uri``, sorted by ``relpath``.

        If ``uri`` names an object, yield just that object with ``relpath=""``.
        Objects still being written are not listed. Raises ObjectNotFound (on the
        first ``next``) when nothing exists at ``uri``.
        """

    def list_sizes(self, uri: str) -> Iterator[ObjectInfo]:
        """Like ``list``, for callers that need names and sizes only: a store that must
        read an object to checksum it may leave ``checksum`` empty here."""
        yield from self.list(uri)

    @abc.abstractmethod
    def open(self, uri: str) -> AbstractContextManager[BinaryIO]:
        """Return a context manager giving a streaming binary reader of one object.

        The object is never loaded whole into memory. Raises ObjectNotFound if there
        is no object at ``uri`` (a prefix is not an object).
        """

    @abc.abstractmethod
    def put(
        self,
        uri: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        """Store the bytes read from ``stream`` at ``uri``, replacing any object there.

        Reads in chunks, so memory stays bounded whatever the size. Returns the new
        object's info with ``checksum`` ``sha256:<hex>`` of exactly the bytes read.
        ``size``, when given, is checked: a stream that ends early or runs long is an
        error. Atomic: if anything fails midway, the previous state at ``uri`` is left
        as it was (nothing, or the old object) and no partial data stays behind.
        """

    @abc.abstractmethod
    def delete(self, uri: str) -> int:
        """Delete the object at ``uri``, or every object under the prefix ``uri``.

        Returns the bytes freed, measured: what the store really removed at this call
        (every object version in a versioned bucket, a Hive table's files at the drop,
        the files taken off disk), never a size recorded earlier. Idempotent: deleting
        what is already gone frees and returns 0. Refuses (InvalidURI) to delete a whole
        bucket or filesystem root.

        Removes everything it can before failing. Objects the store will not remove
        (permissions, object lock) or that modelyard will not touch raise
        DeletionRefused (``permanent``), others IncompleteDeletion; either way the error
        names what is left, and its ``bytes_freed`` is what did go, so the caller can
        count it. Deleting again after the cause is fixed finishes the job.
        """

    def deletion_reach(self, uri: str) -> tuple[str, ...]:
        """The storage URIs beyond ``uri`` itself whose bytes ``delete(uri)`` removes.

        Empty for a store that deletes only what the URI names. A Hive EXTERNAL table's
        files lie wherever its LOCATION says, and modelyard deletes them through its own
        store for that location: the caller must check those URIs against the declared
        stores too, or a table registered in a team's database could point modelyard's
        credentials at another team's data.
        """
        return ()

    def download(
        self,
        uri: str,
        dest_path: str | os.PathLike[str],
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        """Stream the object or prefix at ``uri`` to local disk and describe what came.

        An object is written to ``dest_path``; a prefix becomes a directory at
        ``dest_path`` with each object at its ``relpath``. Each file is written to a
        temporary name and renamed when complete, and checked against a known SHA-256.
        """
        destination = Path(dest_path)
        entries = builtins.list(self.list(uri))
        for entry in entries:
            self._download_one(entry, _local_target(destination, entry, uri), progress)
        if len(entries) == 1 and not entries[0].relpath:
            return entries[0]
        return prefix_info(uri, entries)

    def _download_one(
        self, entry: ObjectInfo, target: Path, progress: ProgressCallback | None
    ) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as handle, self.open(entry.uri) as source:
            _, checksum = copy_stream(source, handle, progress)
            if entry.checksum.startswith("sha256:") and checksum != entry.checksum:
                raise StorageError(
                    f"Download of {entry.uri} is corrupt: expected {entry.checksum}, got "
                    f"{checksum}. Retry; if it persists the stored object is damaged."
                )


def sha256_checksum(hexdigest: str) -> str:
    """Format a SHA-256 hex digest as an ObjectInfo checksum."""
    return f"sha256:{hexdigest}"


def manifest_checksum(entries: Iterable[ObjectInfo]) -> str:
    """Checksum a prefix: SHA-256 of the sorted lines ``"<relpath> <size> <checksum>\\n"``.

    Changes whenever any object under the prefix is added, removed or altered, without
    reading object contents beyond what the entries already carry.
    """
    lines = sorted(f"{entry.relpath} {entry.size} {entry.checksum}\n" for entry in entries)
    digest = hashlib.sha256("".join(lines).encode())
    return f"manifest-sha256:{digest.hexdigest()}"


def prefix_info(uri: str, entries: Iterable[ObjectInfo]) -> ObjectInfo:
    """Summarise the objects under a prefix as one ObjectInfo."""
    entries = builtins.list(entries)
    total = sum(entry.size for entry in entries)
    return ObjectInfo(uri=uri, size=total, checksum=manifest_checksum(entries), is_prefix=True)


def iter_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield successive chunks of at most ``chunk_size`` bytes until ``stream`` ends."""
    while chunk := stream.read(chunk_size):
        yield chunk


def read_exactly(stream: BinaryIO, count: int) -> bytes:
    """Read ``count`` bytes, fewer only at end of stream; pipes and sockets read short."""
    pieces: builtins.list[bytes] = []
    remaining = count
    while remaining > 0 and (piece := stream.read(remaining)):
        pieces.append(piece)
        remaining -= len(piece)
    return b"".join(pieces)


def copy_stream(
    source: BinaryIO, target: BinaryIO | None, progress: ProgressCallback | None = None
) -> tuple[int, str]:
    """Copy ``source`` to ``target`` (if any) in chunks; return (bytes, sha256 checksum)."""
    digest = hashlib.sha256()
    copied = 0
    for chunk in iter_chunks(source):
        if target is not None:
            target.write(chunk)
        digest.update(chunk)
        copied += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return copied, sha256_checksum(digest.hexdigest())


def hash_stream(stream: BinaryIO) -> tuple[int, str]:
    """Read ``stream`` to the end in chunks; return (bytes read, sha256 checksum)."""
    return copy_stream(stream, None)


def check_declared_size(uri: str, declared: int | None, actual: int) -> None:
    """Raise if the caller declared a size and the stream disagreed."""
    if declared is not None and declared != actual:
        raise StorageError(
            f"Upload to {uri} read {actual} bytes but size={declared} was declared; "
            "nothing was stored. Check the source file and the declared size."
        )


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    The temporary file is created with mode 0o666 so the process umask applies as it
    would for a plain ``open``; it is removed on any failure, including interrupts.
    """
    temporary = path.with_name(f".{path.name[:100]}.{secrets.token_hex(8)}{TEMP_SUFFIX}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _local_target(destination: Path, entry: ObjectInfo, uri: str) -> Path:
    if not entry.relpath:
        return destination
    segments = entry.relpath.split("/")
    if entry.relpath.startswith("/") or any(s in ("", ".", "..") for s in segments):
        raise StorageError(
            f"Cannot download {entry.uri} from {uri}: its relative path {entry.relpath!r} "
            "would land outside the destination. Rename the object in the store."
        )
    return destination.joinpath(*segments)
