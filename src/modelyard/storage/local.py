"""Local filesystem storage: ``file:///absolute/path``; directories act as prefixes."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, ClassVar

from modelyard.storage.base import (
    TEMP_SUFFIX,
    ObjectInfo,
    ProgressCallback,
    Store,
    atomic_write,
    check_declared_size,
    copy_stream,
    hash_stream,
    prefix_info,
)
from modelyard.storage.errors import (
    DeletionRefused,
    IncompleteDeletion,
    InvalidURI,
    ObjectNotFound,
    StorageError,
)
from modelyard.storage.uris import join_uri, uri_to_path

_Info = Callable[[str, Path, str], ObjectInfo]
# Failures to remove a file that no retry cures: permissions, immutable files, read-only
# mounts. Anything else (EIO, EBUSY...) may pass.
_REFUSED_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
KEPT_FILES_SHOWN = 5  # how many undeletable files an error message names


class LocalStore(Store):
    """Objects are files; a prefix is a directory holding at least one file."""

    scheme: ClassVar[str] = "file"

    def exists(self, uri: str) -> bool:
        path = uri_to_path(uri)
        return path.is_file() or next(_walk_files(path), None) is not None

    def stat(self, uri: str) -> ObjectInfo:
        path = uri_to_path(uri)
        if path.is_file():
            return _file_info(uri, path, relpath="")
        return prefix_info(uri, self.list(uri))

    def list(self, uri: str) -> Iterator[ObjectInfo]:
        yield from self._listing(uri, _file_info)

    def list_sizes(self, uri: str) -> Iterator[ObjectInfo]:
        # Scoring plans from sizes and schemas: hashing a TB of input first would cost minutes.
        yield from self._listing(uri, _sized_info)

    def _listing(self, uri: str, info: _Info) -> Iterator[ObjectInfo]:
        path = uri_to_path(uri)
        if path.is_file():
            yield info(uri, path, "")
            return
        relpaths = sorted(file.relative_to(path).as_posix() for file in _walk_files(path))
        if not relpaths:
            raise ObjectNotFound(uri)
        for relpath in relpaths:
            yield info(join_uri(uri, relpath), path / relpath, relpath)

    def open(self, uri: str) -> AbstractContextManager[BinaryIO]:
        path = uri_to_path(uri)
        if path.is_dir():
            raise StorageError(
                f"{uri} is a directory, not an object; list() it and open each object."
            )
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(uri) from None

    def put(
        self,
        uri: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        path = uri_to_path(uri)
        if path.is_dir():
            raise StorageError(f"Cannot put {uri}: a directory is there. Delete it first.")
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            written, checksum = copy_stream(stream, handle, progress)
            check_declared_size(uri, size, written)
        return ObjectInfo(uri=uri, size=written, checksum=checksum)

    def delete(self, uri: str) -> int:
        """Remove the file, or the directory and everything in it; return the bytes of
        the files actually removed. Files the system will not remove do not stop the
        rest; they are named in one DeletionRefused (or IncompleteDeletion) at the end."""
        path = uri_to_path(uri)
        if path.parent == path:
            raise InvalidURI(f"Refusing to delete the filesystem root {uri}; name a directory.")
        removal = _Removal(uri)
        if path.is_dir() and not path.is_symlink():
            removal.tree(path)
        else:
            removal.file(path)
        return removal.finish()


def _sized_info(uri: str, path: Path, relpath: str) -> ObjectInfo:
    return ObjectInfo(uri=uri, size=path.stat().st_size, checksum="", relpath=relpath)


def _file_info(uri: str, path: Path, relpath: str) -> ObjectInfo:
    with path.open("rb") as handle:
        size, checksum = hash_stream(handle)
    return ObjectInfo(uri=uri, size=size, checksum=checksum, relpath=relpath)


def _walk_files(root: Path) -> Iterator[Path]:
    """Yield the regular files under ``root``, skipping unfinished ``put`` temporaries."""
    for directory, _, names in os.walk(root):
        for name in names:
            file = Path(directory, name)
            if not name.endswith(TEMP_SUFFIX) and file.is_file():
                yield file


class _Removal:
    """Removes files one by one, counting the bytes that went and the files that stayed."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.freed = 0
        self.kept: list[tuple[Path, int, OSError]] = []

    def tree(self, root: Path) -> None:
        # Bottom-up, so each directory is empty by the time it is removed. Symbolic links
        # are removed, never followed: what they point at is not under the prefix.
        for directory, subdirectories, names in os.walk(root, topdown=False):
            for name in names:
                self.file(Path(directory, name))
            for name in subdirectories:
                entry = Path(directory, name)
                if entry.is_symlink():
                    self.file(entry)
                else:
                    self._directory(entry)
        self._directory(root)

    def file(self, path: Path) -> None:
        try:
            size = path.lstat().st_size
        except FileNotFoundError:
            return
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as error:
            self.kept.append((path, size, error))
            return
        self.freed += size

    def _directory(self, path: Path) -> None:
        try:
            path.rmdir()
        except FileNotFoundError:
            pass
        except OSError as error:
            # Not empty because a file in it could not go: that file is reported already.
            if not (error.errno == errno.ENOTEMPTY and self.kept):
                self.kept.append((path, 0, error))

    def finish(self) -> int:
        if not self.kept:
            return self.freed
        message = self._message()
        if any(error.errno in _REFUSED_ERRNOS for _, _, error in self.kept):
            raise DeletionRefused(
                f"{message} Give the service user the right to remove them (or remove "
                "them by hand), then delete again: what is gone is not deleted twice.",
                bytes_freed=self.freed,
                bytes_kept=sum(size for _, size, _ in self.kept),
                kept=[str(path) for path, _, _ in self.kept],
            )
        raise IncompleteDeletion(f"{message} Retry the delete.", bytes_freed=self.freed)

    def _message(self) -> str:
        shown = "; ".join(
            f"{path}: {error.strerror or error}" for path, _, error in self.kept[:KEPT_FILES_SHOWN]
        )
        more = len(self.kept) - KEPT_FILES_SHOWN
        kept_bytes = sum(size for _, size, _ in self.kept)
        return (
            f"Could not delete {len(self.kept)} file(s) under {self.uri}; their "
            f"{kept_bytes:,} bytes are not reclaimed ({self.freed:,} bytes were). {shown}"
            + (f"; and {more} more." if more > 0 else ".")
        )
