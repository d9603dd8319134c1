"""Which storage errors are permanent: a retry cannot cure them, people must act."""

from __future__ import annotations

import pytest

from modelyard.storage import (
    BucketNotFound,
    DeletionRefused,
    IncompleteDeletion,
    InvalidURI,
    ObjectNotFound,
    StorageError,
    StoreAccessDenied,
    StoreUnavailable,
    UnsupportedScheme,
)
from modelyard.storage.hive import DatabaseNotFound, HiveAccessDenied, HiveUnavailable


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (StorageError("unknown"), False),
        (StoreUnavailable("http://s3", "b", "connection refused"), False),
        (HiveUnavailable("h:1", "db", "timed out"), False),
        (IncompleteDeletion("throttled", bytes_freed=3), False),
        (StoreAccessDenied("http://s3", "b", "AccessDenied"), True),
        (HiveAccessDenied("h:1", "db", "permission denied"), True),
        (DeletionRefused("object lock"), True),
        (InvalidURI("bad"), True),
        (UnsupportedScheme("ftp", "ftp://x", ["s3"]), True),
        (ObjectNotFound("s3://b/k"), True),
        (BucketNotFound("s3://b/k", "b", "http://s3"), True),
        (DatabaseNotFound("hive://h/db/t", "db", "h:1"), True),
        (StorageError("one-off", permanent=True), True),
    ],
)
def test_permanence(error: StorageError, permanent: bool) -> None:
    assert error.permanent is permanent


def test_bytes_freed_defaults_to_nothing() -> None:
    assert StorageError("x").bytes_freed == 0
    assert IncompleteDeletion("x", bytes_freed=12).bytes_freed == 12
    refused = DeletionRefused("x", bytes_freed=5, bytes_kept=7, kept=["a", "b"])
    assert (refused.bytes_freed, refused.bytes_kept, refused.kept) == (5, 7, ["a", "b"])
