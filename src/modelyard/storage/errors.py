"""Errors raised by every storage backend.

Callers catch these, never botocore or OSError types, so that switching a URI from
``file://`` to ``s3://`` does not change error handling. Every message says what went
wrong and what to do about it, because these reach users of the CLI and API unchanged.

Every error says whether it is **permanent**: ``error.permanent`` is True when running
the same operation again cannot succeed until someone changes something (a permission,
an object lock or legal hold, a table modelyard refuses to drop, a malformed URI), and
False when a retry may succeed by itself (the network, throttling, a busy server). A
deletion that fails permanently should be brought to people at once; a transient one
is left to retries.
"""

from __future__ import annotations

from collections.abc import Iterable


class StorageError(Exception):
    """Base class for every storage failure.

    ``permanent`` (see the module docstring) defaults to the class's value, so a
    subclass states it once; pass ``permanent=`` for a one-off. Unknown failures are
    transient: retrying them is the safe default. ``bytes_freed`` is what a failing
    ``Store.delete`` had already freed before it failed, so callers can still count it.
    """

    permanent: bool = False
    bytes_freed: int = 0

    def __init__(self, *args: object, permanent: bool | None = None) -> None:
        super().__init__(*args)
        if permanent is not None:
            self.permanent = permanent


class UnsupportedScheme(StorageError):
    """The URI's scheme has no registered backend."""

    permanent = True

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

    permanent = True


class ObjectNotFound(StorageError):
    """Nothing exists at the URI: no object and no non-empty prefix."""

    permanent = True

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
    """The endpoint refused the credentials or the operation: permanent until the
    credentials or the policy change."""

    permanent = True

    def __init__(self, endpoint: str, bucket: str, detail: str) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        super().__init__(
            f"Access denied by {endpoint} for bucket {bucket!r}: {detail}. Check "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket policy."
        )


class DeletionRefused(StorageError):
    """A delete that cannot finish until someone acts: the store refused some objects
    (access denied, object lock, retention, legal hold) or modelyard refuses the delete
    (a partitioned external Hive table). Always permanent.

    ``bytes_freed`` counts what was deleted before or around the refusal, ``bytes_kept``
    what is still there and stays unreclaimed, and ``kept`` names the first few objects
    left, so the message and the caller can say exactly what remains.
    """

    permanent = True

    def __init__(
        self,
        message: str,
        *,
        bytes_freed: int = 0,
        bytes_kept: int = 0,
        kept: Iterable[str] = (),
    ) -> None:
        super().__init__(message)
        self.bytes_freed = bytes_freed
        self.bytes_kept = bytes_kept
        self.kept = list(kept)


class IncompleteDeletion(StorageError):
    """A delete the store partly failed for reasons a retry may cure (throttling, an
    internal error on some keys). Transient; ``bytes_freed`` counts what did go."""

    def __init__(self, message: str, *, bytes_freed: int = 0) -> None:
        super().__init__(message)
        self.bytes_freed = bytes_freed
