"""Parsing and building storage URIs.

URIs are used verbatim, never percent-decoded: an S3 key or file name containing
``%``, ``?`` or ``#`` means exactly those characters. That is why this module splits
URIs by hand instead of using ``urllib.parse``, which would treat ``?`` and ``#`` as
query and fragment delimiters.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from modelyard.storage.errors import InvalidURI

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_LOCAL_HOSTS = ("", "localhost")


@dataclass(frozen=True)
class ParsedURI:
    """The three parts of ``scheme://netloc/path``; ``path`` keeps its leading slash."""

    scheme: str
    netloc: str
    path: str

    @property
    def bucket(self) -> str:
        """The netloc under its S3 name."""
        return self.netloc

    @property
    def key(self) -> str:
        """The path without its leading slash, as S3 names it."""
        return self.path.lstrip("/")


def parse_uri(uri: str) -> ParsedURI:
    """Split ``uri``; raise InvalidURI when it has no ``scheme://`` part."""
    scheme, separator, rest = uri.partition("://")
    if not separator or not _SCHEME.match(scheme):
        raise InvalidURI(
            f"{uri!r} is not a storage URI. Use scheme://location, for example "
            "file:///abs/path for a local path or s3://bucket/key."
        )
    netloc, slash, path = rest.partition("/")
    return ParsedURI(scheme=scheme.lower(), netloc=netloc, path=slash + path)


def join_uri(base_uri: str, *parts: str) -> str:
    """Append relative ``parts`` to ``base_uri`` with single slashes between segments.

    Raises InvalidURI for an absolute part or a ``..`` segment, so that a relative
    path taken from user input can never escape ``base_uri``.
    """
    parsed = parse_uri(base_uri)
    segments = [segment for segment in parsed.path.split("/") if segment]
    for part in parts:
        segments.extend(_relative_segments(part, base_uri))
    return f"{parsed.scheme}://{parsed.netloc}/" + "/".join(segments)


def _relative_segments(part: str, base_uri: str) -> list[str]:
    if part.startswith("/"):
        raise InvalidURI(
            f"Cannot join absolute path {part!r} to {base_uri!r}; pass a relative path."
        )
    segments = [segment for segment in part.split("/") if segment not in ("", ".")]
    if ".." in segments:
        raise InvalidURI(f"Cannot join {part!r} to {base_uri!r}: '..' segments are not allowed.")
    return segments


def path_to_uri(path: str | os.PathLike[str]) -> str:
    """Return the absolute ``file://`` URI for a local path (relative to the cwd if needed)."""
    return "file://" + Path(os.path.abspath(path)).as_posix()


def uri_to_path(uri: str) -> Path:
    """Return the local path named by a ``file:///abs/path`` URI."""
    parsed = parse_uri(uri)
    if parsed.scheme != "file":
        raise InvalidURI(f"{uri!r} is not a file:// URI; expected file:///abs/path.")
    if parsed.netloc not in _LOCAL_HOSTS or not parsed.path:
        raise InvalidURI(
            f"{uri!r} is not an absolute file URI. Use three slashes: file:///abs/path "
            "(modelyard.storage.path_to_uri builds one from a local path)."
        )
    return Path(parsed.path)


# --- where a URI really leads ----------------------------------------------------------------
#
# Deciding whether a URI lies under a declared store must not depend on how it is spelled.
# A URI gets one *reading* per way a tool may interpret it: as written (modelyard's backends
# use URIs verbatim) and percent-decoded (what pyarrow, Spark or a shell copy may do), each
# with `.`/`..` segments collapsed, repeated slashes merged, scheme and host in lower case,
# and, for file://, symbolic links resolved as the kernel would when opening it. A URI is
# inside a prefix only if every reading is.

_DECODE_ROUNDS = 4  # %252e%252e is '..' after two rounds; no store name needs more
_HIVE_DEFAULT_PORT = 10000  # as modelyard.storage.hive, which this module must not import


def uri_readings(uri: str) -> tuple[str, ...]:
    """Every location ``uri`` may be taken to name, normalised; raise InvalidURI if bad."""
    parsed = parse_uri(uri)
    paths = {parsed.path, _percent_decoded(parsed.path)}
    readings = {_normalised(parsed, path) for path in paths}
    if parsed.scheme not in ("file", "hive"):
        # Object keys are literal: S3 reads 'a/../b' as that very key, not as 'b'.
        readings |= {f"{parsed.scheme}://{_host(parsed)}{path or '/'}" for path in paths}
    return tuple(sorted(readings))


def normalise_uri(uri: str) -> str:
    """The canonical spelling of ``uri`` (decoded, collapsed, lower-case scheme and host),
    without resolving symbolic links: how a declared store's prefix is written down."""
    parsed = parse_uri(uri)
    path = _collapsed(_percent_decoded(parsed.path))
    if parsed.scheme == "file":
        _require_local_host(uri, parsed)
        return "file://" + path
    if parsed.scheme == "hive":  # database and table names are case-insensitive
        path = path.lower()
    return f"{parsed.scheme}://{_host(parsed)}{path}"


def is_within(location: str, prefix: str) -> bool:
    """Whether normalised ``location`` is ``prefix`` or below it, on a segment boundary."""
    base = prefix.rstrip("/")
    return location in (prefix, base) or location.startswith(base + "/")


def resolved_files(uri: str) -> Iterator[str]:
    """The resolved file:// location of every file a file:// folder lists (as LocalStore
    lists it: files, and links to files, but no linked folders); nothing for a file."""
    root = uri_to_path(uri)
    if not root.is_dir():
        return
    for directory, _, names in os.walk(root):
        for name in names:
            yield "file://" + os.path.realpath(os.path.join(directory, name))


def _normalised(parsed: ParsedURI, path: str) -> str:
    if parsed.scheme == "file":
        _require_local_host(f"file://{parsed.netloc}{parsed.path}", parsed)
        return "file://" + os.path.realpath(path or "/")
    if parsed.scheme == "hive":  # database and table names are case-insensitive
        path = path.lower()
    return f"{parsed.scheme}://{_host(parsed)}{_collapsed(path)}"


def _percent_decoded(path: str) -> str:
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    if any(ord(character) < 32 or ord(character) == 127 for character in path):
        raise InvalidURI(f"{path!r} holds a control character; a storage path cannot.")
    return path


def _collapsed(path: str) -> str:
    # posixpath.normpath keeps a leading '//' (POSIX allows it a meaning): strip it first.
    return posixpath.normpath("/" + path.lstrip("/"))


def _host(parsed: ParsedURI) -> str:
    host = parsed.netloc.rpartition("@")[2].lower()  # a Hive user name is not a location
    if parsed.scheme != "hive":
        return host
    if not host:
        host = os.environ.get("MODELYARD_HIVE_HOST", "").lower()
        port = os.environ.get("MODELYARD_HIVE_PORT", "") or str(_HIVE_DEFAULT_PORT)
        return f"{host}:{port}"
    return host if re.search(r":\d+$", host) else f"{host}:{_HIVE_DEFAULT_PORT}"


def _require_local_host(uri: str, parsed: ParsedURI) -> None:
    if parsed.netloc.lower() not in _LOCAL_HOSTS:
        raise InvalidURI(f"{uri!r} names host {parsed.netloc!r}; file:// URIs are local only.")
