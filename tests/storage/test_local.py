from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from modelyard.storage import (
    InvalidURI,
    ObjectNotFound,
    StorageError,
    manifest_checksum,
    path_to_uri,
)
from modelyard.storage.base import TEMP_SUFFIX
from modelyard.storage.local import LocalStore


class BreaksMidway(io.BytesIO):
    """A stream that fails after handing out ``fail_after`` bytes, like a dropped upload."""

    def __init__(self, data: bytes, fail_after: int) -> None:
        super().__init__(data)
        self.fail_after = fail_after

    def read(self, size: int | None = -1) -> bytes:
        remaining = self.fail_after - self.tell()
        if remaining <= 0:
            raise OSError("connection reset by peer")
        return super().read(remaining if size is None or size < 0 else min(size, remaining))


@pytest.fixture
def store() -> LocalStore:
    return LocalStore()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_bytes(store: LocalStore, uri: str, data: bytes) -> None:
    store.put(uri, io.BytesIO(data))


def test_put_returns_sha256_and_creates_parents(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "a" / "b" / "model.bin")
    reported: list[int] = []
    info = store.put(uri, io.BytesIO(b"weights"), size=7, progress=reported.append)
    assert (info.uri, info.size, info.checksum) == (uri, 7, sha256(b"weights"))
    assert (tmp_path / "a" / "b" / "model.bin").read_bytes() == b"weights"
    assert sum(reported) == 7


def test_put_replaces_existing_object(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "model.bin")
    put_bytes(store, uri, b"old")
    put_bytes(store, uri, b"newer")
    assert store.stat(uri).checksum == sha256(b"newer")


def test_stat_of_file_computes_sha256(store: LocalStore, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_bytes(b"a,b\n1,2\n")
    info = store.stat(path_to_uri(tmp_path / "data.csv"))
    assert (info.size, info.checksum, info.is_prefix) == (8, sha256(b"a,b\n1,2\n"), False)


def test_stat_of_directory_summarises_files(store: LocalStore, tmp_path: Path) -> None:
    root = path_to_uri(tmp_path / "run")
    put_bytes(store, root + "/model.bin", b"12345")
    put_bytes(store, root + "/metrics/auc.json", b"{}")
    info = store.stat(root)
    assert (info.uri, info.size, info.is_prefix) == (root, 7, True)
    assert info.checksum == manifest_checksum(store.list(root))
    assert info.checksum.startswith("manifest-sha256:")


def test_stat_of_missing_path_raises(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound, match="missing"):
        store.stat(path_to_uri(tmp_path / "missing"))


def test_exists_needs_a_file(store: LocalStore, tmp_path: Path) -> None:
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_bytes(b"x")
    assert not store.exists(path_to_uri(tmp_path / "empty"))
    assert not store.exists(path_to_uri(tmp_path / "missing"))
    assert store.exists(path_to_uri(tmp_path / "full"))
    assert store.exists(path_to_uri(tmp_path / "full" / "f"))


def test_list_directory_recursively_sorted(store: LocalStore, tmp_path: Path) -> None:
    root = path_to_uri(tmp_path)
    for relpath in ["b.txt", "a/z.txt", "a/b/c.txt"]:
        put_bytes(store, f"{root}/{relpath}", relpath.encode())
    listed = list(store.list(root))
    assert [info.relpath for info in listed] == ["a/b/c.txt", "a/z.txt", "b.txt"]
    assert listed[0].uri == f"{root}/a/b/c.txt"
    assert listed[0].checksum == sha256(b"a/b/c.txt")


def test_list_of_file_yields_it_with_empty_relpath(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "f.bin")
    put_bytes(store, uri, b"abc")
    assert [(info.uri, info.relpath, info.size) for info in store.list(uri)] == [(uri, "", 3)]


def test_list_of_missing_path_raises(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound):
        list(store.list(path_to_uri(tmp_path / "missing")))


def test_open_streams_content(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "f.bin")
    put_bytes(store, uri, b"0123456789")
    with store.open(uri) as reader:
        assert reader.read(4) == b"0123"
        assert reader.read() == b"456789"


def test_open_missing_or_directory_raises(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound):
        store.open(path_to_uri(tmp_path / "missing"))
    with pytest.raises(StorageError, match="directory"):
        store.open(path_to_uri(tmp_path))


def test_delete_file_returns_size_then_zero(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "f.bin")
    put_bytes(store, uri, b"abcd")
    assert store.delete(uri) == 4
    assert not (tmp_path / "f.bin").exists()
    assert store.delete(uri) == 0


def test_delete_directory_returns_summed_bytes(store: LocalStore, tmp_path: Path) -> None:
    root = path_to_uri(tmp_path / "run")
    put_bytes(store, root + "/a.bin", b"123")
    put_bytes(store, root + "/deep/b.bin", b"4567")
    assert store.delete(root) == 7
    assert not (tmp_path / "run").exists()
    assert store.delete(root) == 0


def test_delete_refuses_filesystem_root(store: LocalStore) -> None:
    with pytest.raises(InvalidURI, match="root"):
        store.delete("file:///")


def test_put_is_atomic_when_stream_fails(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "model.bin")
    with pytest.raises(OSError, match="connection reset"):
        store.put(uri, BreaksMidway(b"x" * 100, fail_after=40))
    assert list(tmp_path.iterdir()) == []


def test_failed_put_keeps_previous_object(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "model.bin")
    put_bytes(store, uri, b"good")
    with pytest.raises(OSError, match="connection reset"):
        store.put(uri, BreaksMidway(b"x" * 100, fail_after=40))
    assert [path.name for path in tmp_path.iterdir()] == ["model.bin"]
    assert (tmp_path / "model.bin").read_bytes() == b"good"


def test_put_with_wrong_declared_size_stores_nothing(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "model.bin")
    with pytest.raises(StorageError, match="size=10 was declared"):
        store.put(uri, io.BytesIO(b"short"), size=10)
    assert list(tmp_path.iterdir()) == []


def test_listing_skips_unfinished_puts(store: LocalStore, tmp_path: Path) -> None:
    (tmp_path / f".model.bin.0123{TEMP_SUFFIX}").write_bytes(b"partial")
    (tmp_path / "done.bin").write_bytes(b"done")
    assert [info.relpath for info in store.list(path_to_uri(tmp_path))] == ["done.bin"]


@pytest.mark.parametrize("uri", ["file://relative/x", "file://", "/abs/without/scheme"])
def test_malformed_uris_are_invalid(store: LocalStore, uri: str) -> None:
    with pytest.raises(InvalidURI):
        store.stat(uri)


def test_download_directory_preserves_relpaths(store: LocalStore, tmp_path: Path) -> None:
    source = path_to_uri(tmp_path / "source")
    put_bytes(store, source + "/model.bin", b"weights")
    put_bytes(store, source + "/meta/params.json", b"{}")
    reported: list[int] = []
    info = store.download(source, tmp_path / "copy", progress=reported.append)
    assert (tmp_path / "copy" / "model.bin").read_bytes() == b"weights"
    assert (tmp_path / "copy" / "meta" / "params.json").read_bytes() == b"{}"
    assert info == store.stat(source)
    assert sum(reported) == 9


def test_download_single_object_to_file(store: LocalStore, tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "model.bin")
    put_bytes(store, uri, b"weights")
    info = store.download(uri, tmp_path / "out" / "copy.bin")
    assert (tmp_path / "out" / "copy.bin").read_bytes() == b"weights"
    assert info.checksum == sha256(b"weights")
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["copy.bin"]


def test_list_sizes_names_and_sizes_without_reading_the_files(tmp_path) -> None:
    from modelyard.storage import get_store

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.bin").write_bytes(b"x" * 10)
    (tmp_path / "data" / "b.bin").write_bytes(b"y" * 3)
    uri = (tmp_path / "data").as_uri()

    listed = list(get_store(uri).list_sizes(uri))

    assert [(o.relpath, o.size, o.checksum) for o in listed] == [
        ("a.bin", 10, ""),
        ("b.bin", 3, ""),
    ]
    assert all(o.checksum.startswith("sha256:") for o in get_store(uri).list(uri))
