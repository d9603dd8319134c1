"""Arrow filesystems for ``file://`` and ``s3://`` URIs: data read where it lies, not copied.

Readers that want random access (a Parquet footer, then only the row groups and columns
they need) open a URI through Arrow's own filesystems instead of downloading it: planning
a scoring run reads the footers alone, and each worker streams its row groups. S3 follows
the same AWS configuration as ``storage.s3`` (``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL``, ``AWS_REGION`` or ``AWS_DEFAULT_REGION``, and the standard credential
chain), so one setting serves both.

Filesystems are built per process and per AWS environment: the AWS SDK must not be shared
across a fork, and a test that changes the endpoint gets a new client.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from modelyard.storage.errors import InvalidURI
from modelyard.storage.uris import parse_uri, uri_to_path

_ENVIRONMENT = (
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
)
_filesystems: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def arrow_filesystem(uri: str) -> tuple[Any, str]:
    """The Arrow filesystem serving ``uri`` and the path to give it."""
    parsed = parse_uri(uri)
    if parsed.scheme == "file":
        from pyarrow import fs

        return fs.LocalFileSystem(), str(uri_to_path(uri))
    if parsed.scheme == "s3" and parsed.bucket:
        return _s3(), f"{parsed.bucket}/{parsed.key}"
    raise InvalidURI(f"{uri!r} cannot be streamed; Arrow reads file:// and s3://bucket/key URIs.")


def _s3() -> Any:
    key = (os.getpid(), *(os.environ.get(name) for name in _ENVIRONMENT))
    with _lock:
        if key not in _filesystems:
            _filesystems[key] = _new_s3()
        return _filesystems[key]


def _new_s3() -> Any:
    from pyarrow import fs

    options: dict[str, Any] = {"connect_timeout": 5, "request_timeout": 60}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, separator, address = endpoint.partition("://")
        options["endpoint_override"] = address.rstrip("/") if separator else endpoint
        options["scheme"] = scheme if separator else "https"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return fs.S3FileSystem(**options)
