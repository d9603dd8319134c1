"""Errors raised by every storage backend.

Callers catch these, never botocore or OSError types, so that switching a URI from
``file://`` to ``s3://`` does not change error handling. Every message says what went
wrong and what to do about it, because these reach users of the CLI and API unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable


class StorageError(Exception):
    """Base class for every storage failure."""


class UnsupportedScheme(StorageError):
    """The URI's scheme has no registered backend."""

    def __init__(self, scheme: str, uri: str, supported: Iterable[str]) -> None:
        self.scheme = scheme
        self.uri = uri
        self.supported = sorted(supported)
        super().__init__(
            f"Unsupported URI scheme {scheme!r} in {uri!r}. "
            f"Supported schemes: {', '.join(self.supported)}."
        )


class InvalidURI(StorageError):
    """The URI is malformed for its scheme (missing bucket, relative path, ``..``...)."""


class ObjectNotFound(StorageError):
    """Nothing exists at the URI: no object and no non-empty prefix."""

    def __init__(self, uri: str, message: str | None = None) -> None:
        self.uri = uri
        super().__init__(message or f"Nothing found at {uri!r}. Check the URI, or list its parent.")


class BucketNotFound(ObjectNotFound):
    """The bucket in the URI does not exist: a configuration error, not a missing object."""

    def __init__(self, uri: str, bucket: str, endpoint: str) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        super().__init__(
            uri,
            f"Bucket {bucket!r} does not exist at {endpoint} (while accessing {uri!r}). "
            "Create the bucket, or fix the bucket name or AWS_ENDPOINT_URL.",
        )


class StoreUnavailable(StorageError):
    """The storage endpoint could not be reached or did not answer in time."""

    def __init__(self, endpoint: str, bucket: str, detail: str) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        super().__init__(
            f"Storage endpoint {endpoint} is unavailable for bucket {bucket!r}: {detail}. "
            "Check that the endpoint is running and reachable (AWS_ENDPOINT_URL), then retry."
        )


class StoreAccessDenied(StorageError):
    """The endpoint refused the credentials or the operation."""

    def __init__(self, endpoint: str, bucket: str, detail: str) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        super().__init__(
            f"Access denied by {endpoint} for bucket {bucket!r}: {detail}. Check "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket policy."
        )
