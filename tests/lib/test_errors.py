"""One translation of storage failures into answers, whoever meets them."""

from __future__ import annotations

import pytest

from modelyard import storage
from modelyard.lib.errors import (
    InvalidInput,
    ModelyardError,
    NotFound,
    Unavailable,
    from_storage,
)

UNAVAILABLE = storage.StoreUnavailable("http://s3.internal", "models", "connection refused")
MISSING = storage.ObjectNotFound("s3://models/churn/1")
DENIED = storage.StoreAccessDenied("http://s3.internal", "models", "AccessDenied")
UNKNOWN_SCHEME = storage.UnsupportedScheme("ftp", "ftp://x/y", ["file", "s3"])


@pytest.mark.parametrize(
    ("error", "uri_given", "answer", "status"),
    [
        (UNAVAILABLE, False, Unavailable, 503),
        (UNAVAILABLE, True, Unavailable, 503),
        (MISSING, False, NotFound, 404),
        (MISSING, True, InvalidInput, 400),  # the caller's URI: their request must change
        (DENIED, False, InvalidInput, 400),
        (UNKNOWN_SCHEME, True, InvalidInput, 400),
        (storage.InvalidURI("s3:///no-bucket"), False, InvalidInput, 400),
    ],
)
def test_each_storage_error_has_one_answer(
    error: storage.StorageError, uri_given: bool, answer: type[ModelyardError], status: int
) -> None:
    translated = from_storage(error, uri_given=uri_given)

    assert type(translated) is answer
    assert translated.status == status
    assert translated.message == str(error)


def test_the_subject_prefixes_the_stores_message() -> None:
    translated = from_storage(MISSING, "Artifact 'model'", uri_given=True)

    assert translated.message == f"Artifact 'model': {MISSING}"
