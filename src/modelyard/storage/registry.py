"""Chooses the storage backend for a URI by its scheme.

Backends are registered as ``"module.path:ClassName"`` strings and imported on first
use, so that importing ``modelyard.storage`` does not import boto3 (or a Hive driver)
for a deployment that only ever touches local files. New backends register here
without editing this module: ``register_scheme("hive", "pkg.hive:HiveStore")``.
"""

from __future__ import annotations

import importlib
import threading

from modelyard.storage.base import Store
from modelyard.storage.errors import InvalidURI, StorageError, UnsupportedScheme
from modelyard.storage.uris import parse_uri

_targets: dict[str, str] = {}
_stores: dict[str, Store] = {}
# Reentrant: a backend module may call register_scheme while get_store imports it.
_lock = threading.RLock()


def register_scheme(scheme: str, target: str) -> None:
    """Serve ``scheme://`` URIs with the Store class named by ``"module.path:ClassName"``.

    Replaces any earlier registration for the scheme. The class is not imported until
    a URI with that scheme is first used.
    """
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"Store target {target!r} must look like 'module.path:ClassName'.")
    with _lock:
        _targets[scheme.lower()] = target
        _stores.pop(scheme.lower(), None)


def unregister_scheme(scheme: str) -> None:
    """Stop serving ``scheme``; unknown schemes are ignored (tests and plugins use this)."""
    with _lock:
        _targets.pop(scheme.lower(), None)
        _stores.pop(scheme.lower(), None)


def supported_schemes() -> list[str]:
    """Return the registered schemes, sorted."""
    with _lock:
        return sorted(_targets)


def get_store(uri: str) -> Store:
    """Return the (shared) Store instance serving ``uri``'s scheme."""
    scheme = _scheme_of(uri)
    with _lock:
        if scheme not in _targets:
            raise UnsupportedScheme(scheme, uri, _targets)
        if scheme not in _stores:
            _stores[scheme] = _load(scheme)()
        return _stores[scheme]


def clear_store_cache() -> None:
    """Forget the Store instances, so the next ``get_store`` builds fresh ones (tests)."""
    with _lock:
        _stores.clear()


def _scheme_of(uri: str) -> str:
    if "://" not in uri:
        raise InvalidURI(
            f"{uri!r} has no scheme. Write local paths as file:///abs/path "
            "(modelyard.storage.path_to_uri converts a path)."
        )
    return parse_uri(uri).scheme


def _load(scheme: str) -> type[Store]:
    target = _targets[scheme]
    module_name, _, class_name = target.partition(":")
    store_class = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(store_class, type) and issubclass(store_class, Store)):
        raise StorageError(
            f"Scheme {scheme!r} is registered to {target!r}, which is not a Store "
            "subclass. Fix the register_scheme call."
        )
    return store_class


register_scheme("file", "modelyard.storage.local:LocalStore")
register_scheme("s3", "modelyard.storage.s3:S3Store")
register_scheme("hive", "modelyard.storage.hive:HiveStore")
