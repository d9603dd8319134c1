"""Where modelyard keeps model and data bytes: one interface, a backend per URI scheme.

Use ``get_store(uri)`` rather than a backend class, so the scheme in a URI decides
where bytes go and new backends plug in through ``register_scheme``::

    store = get_store("s3://models/churn/1/model.joblib")
    with open(path, "rb") as source:
        info = store.put("s3://models/churn/1/model.joblib", source)
"""

from __future__ import annotations

from modelyard.storage.base import (
    CHUNK_SIZE,
    ObjectInfo,
    ProgressCallback,
    Store,
    manifest_checksum,
    sha256_checksum,
)
from modelyard.storage.errors import (
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
from modelyard.storage.registry import (
    clear_store_cache,
    get_store,
    register_scheme,
    supported_schemes,
    unregister_scheme,
)
from modelyard.storage.uris import (
    ParsedURI,
    is_within,
    join_uri,
    normalise_uri,
    parse_uri,
    path_to_uri,
    resolved_files,
    uri_readings,
    uri_to_path,
)

__all__ = [
    "CHUNK_SIZE",
    "BucketNotFound",
    "DeletionRefused",
    "IncompleteDeletion",
    "InvalidURI",
    "ObjectInfo",
    "ObjectNotFound",
    "ParsedURI",
    "ProgressCallback",
    "StorageError",
    "Store",
    "StoreAccessDenied",
    "StoreUnavailable",
    "UnsupportedScheme",
    "clear_store_cache",
    "get_store",
    "is_within",
    "join_uri",
    "manifest_checksum",
    "normalise_uri",
    "parse_uri",
    "path_to_uri",
    "register_scheme",
    "resolved_files",
    "sha256_checksum",
    "supported_schemes",
    "unregister_scheme",
    "uri_readings",
    "uri_to_path",
]
