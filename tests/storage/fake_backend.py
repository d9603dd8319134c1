"""A do-nothing backend, imported only through the registry (see test_registry)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO, ClassVar

from modelyard.storage import ObjectInfo, ObjectNotFound, ProgressCallback, Store


class FakeStore(Store):
    scheme: ClassVar[str] = "fake"

    def exists(self, uri: str) -> bool:
        return False

    def stat(self, uri: str) -> ObjectInfo:
        raise ObjectNotFound(uri)

    def list(self, uri: str) -> Iterator[ObjectInfo]:
        raise ObjectNotFound(uri)

    def open(self, uri: str) -> AbstractContextManager[BinaryIO]:
        raise ObjectNotFound(uri)

    def put(
        self,
        uri: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        raise NotImplementedError

    def delete(self, uri: str) -> int:
        return 0


NOT_A_STORE = object()
