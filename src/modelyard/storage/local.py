"""Local filesystem storage: ``file:///absolute/path``; directories act as prefixes."""

from __future__ import annotations

import os
import shutil
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
from modelyard.storage.errors import InvalidURI, ObjectNotFound, StorageError
from modelyard.storage.uris import join_uri, uri_to_path

_Info = Callable[[str, Path, str], ObjectInfo]


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
        path = uri_to_path(uri)
        if path.is_dir():
            return _delete_tree(uri, path)
        try:
            freed = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return freed


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


def _delete_tree(uri: str, path: Path) -> int:
    if path.parent == path:
        raise InvalidURI(f"Refusing to delete the filesystem root {uri}; name a directory.")
    freed = sum(file.stat().st_size for file in _walk_files(path))
    shutil.rmtree(path, ignore_errors=False)
    return freed
