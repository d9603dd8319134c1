"""A version's files as one tree, whatever stores its artifacts live in.

An artifact that is one object appears under its name; an artifact that is a prefix
appears as `name/relative/path` for every object under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from modelyard import storage
from modelyard.lib.errors import NotFound, from_storage
from modelyard.registry import stores
from modelyard.registry.models import Artifact, AssetVersion

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class VersionFile:
    path: str
    uri: str
    size: int
    checksum: str


def list_files(version: AssetVersion) -> list[VersionFile]:
    """Refused (StoreRefused) when a file lies outside the stores the version's team may use:
    a row from before stores were declared, or a link inside a folder that leads out."""
    rules = stores.current_rules()
    files: list[VersionFile] = []
    for artifact in version.artifacts.all():
        files.extend(_artifact_files(artifact))
    for file in files:
        stores.check_usable(file.uri, version.team, rules)
    return files


def _artifact_files(artifact: Artifact) -> Iterator[VersionFile]:
    if not artifact.is_prefix:
        yield VersionFile(artifact.name, artifact.uri, artifact.size_bytes, artifact.checksum)
        return
    try:
        for info in storage.get_store(artifact.uri).list(artifact.uri):
            path = f"{artifact.name}/{info.relpath}" if info.relpath else artifact.name
            yield VersionFile(path, info.uri, info.size, info.checksum)
    except storage.StoreUnavailable as error:
        raise from_storage(error) from error


def find_file(version: AssetVersion, path: str) -> VersionFile:
    """Stat just the one object: a prefix artifact may hold many thousands."""
    for artifact in version.artifacts.all():
        if path == artifact.name and not artifact.is_prefix:
            return VersionFile(path, artifact.uri, artifact.size_bytes, artifact.checksum)
        if artifact.is_prefix and path.startswith(artifact.name + "/"):
            found = _stat_inside(artifact, path.removeprefix(artifact.name + "/"))
            if found is not None:
                return found
    raise NotFound(f"{version.ref} has no file '{path}'. List its files with the files endpoint.")


def _stat_inside(artifact: Artifact, relpath: str) -> VersionFile | None:
    try:
        uri = storage.join_uri(artifact.uri, relpath)
        info = storage.get_store(uri).stat(uri)
    except (storage.ObjectNotFound, storage.InvalidURI):
        return None
    except storage.StoreUnavailable as error:
        raise from_storage(error) from error
    if info.is_prefix:  # a folder inside the artifact, not a file
        return None
    return VersionFile(f"{artifact.name}/{relpath}", info.uri, info.size, info.checksum)


def open_file(version: AssetVersion, path: str) -> tuple[int, Iterator[bytes]]:
    """The file's size and a generator streaming its bytes in CHUNK_BYTES pieces."""
    found = find_file(version, path)
    stores.check_usable(found.uri, version.team)
    return found.size, _stream(found.uri)


def _stream(uri: str) -> Iterator[bytes]:
    with storage.get_store(uri).open(uri) as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
