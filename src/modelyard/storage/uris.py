"""Parsing and building storage URIs.

URIs are used verbatim, never percent-decoded: an S3 key or file name containing
``%``, ``?`` or ``#`` means exactly those characters. That is why this module splits
URIs by hand instead of using ``urllib.parse``, which would treat ``?`` and ``#`` as
query and fragment delimiters.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

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
