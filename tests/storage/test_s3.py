"""S3Store against moto's server over real HTTP (never moto's in-process mocks)."""

from __future__ import annotations

import hashlib
import io
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from modelyard.storage import (
    InvalidURI,
    ObjectNotFound,
    StoreUnavailable,
    get_store,
    manifest_checksum,
)
from modelyard.storage.s3 import S3Store, client_for_environment
from tests.storage.test_local import BreaksMidway

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@pytest.fixture
def store(s3_env: str) -> S3Store:
    # 5 MiB is S3's smallest part size: large uploads need only a few MiB.
    return S3Store(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def uploads_in_progress(client: S3Client, bucket: str) -> list[str]:
    return [
        upload["Key"] for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    ]


def test_registry_serves_s3_store(s3_env: str) -> None:
    assert isinstance(get_store("s3://bucket/key"), S3Store)


def test_small_put_stores_sha256_metadata(
    store: S3Store, s3_bucket: str, s3_client: S3Client
) -> None:
    uri = f"s3://{s3_bucket}/models/m.bin"
    reported: list[int] = []
    info = store.put(uri, io.BytesIO(b"weights"), progress=reported.append)
    assert (info.uri, info.size, info.checksum) == (uri, 7, sha256(b"weights"))
    head = s3_client.head_object(Bucket=s3_bucket, Key="models/m.bin")
    assert "sha256:" + head["Metadata"]["sha256"] == sha256(b"weights")
    assert store.stat(uri) == info
    assert reported == [7]


def test_large_put_uses_multipart_and_checksums_whole_object(
    store: S3Store, s3_bucket: str, s3_client: S3Client
) -> None:
    data = os.urandom(12 * MiB)
    uri = f"s3://{s3_bucket}/big.bin"
    reported: list[int] = []
    info = store.put(uri, io.BytesIO(data), size=len(data), progress=reported.append)
    assert (info.size, info.checksum) == (len(data), sha256(data))
    assert reported == [5 * MiB, 5 * MiB, 2 * MiB]
    assert s3_client.head_object(Bucket=s3_bucket, Key="big.bin")["ETag"].endswith('-3"')
    assert store.stat(uri).checksum == sha256(data)
    with store.open(uri) as reader:
        assert hashlib.sha256(reader.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert uploads_in_progress(s3_client, s3_bucket) == []


def test_interrupted_upload_leaves_nothing(
    store: S3Store, s3_bucket: str, s3_client: S3Client
) -> None:
    uri = f"s3://{s3_bucket}/broken.bin"
    stream = BreaksMidway(os.urandom(12 * MiB), fail_after=11 * MiB)
    with pytest.raises(OSError, match="connection reset"):
        store.put(uri, stream)
    assert not store.exists(uri)
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    assert uploads_in_progress(s3_client, s3_bucket) == []


def test_stat_of_object_without_our_metadata_uses_etag(
    store: S3Store, s3_bucket: str, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="raw.bin", Body=b"raw")
    info = store.stat(f"s3://{s3_bucket}/raw.bin")
    assert info.checksum == "etag:" + hashlib.md5(b"raw").hexdigest()  # noqa: S324


def test_stat_list_and_exists_on_prefix(store: S3Store, s3_bucket: str) -> None:
    prefix = f"s3://{s3_bucket}/run"
    store.put(f"{prefix}/model.bin", io.BytesIO(b"12345"))
    store.put(f"{prefix}/metrics/auc.json", io.BytesIO(b"{}"))
    store.put(f"s3://{s3_bucket}/run-2/other.bin", io.BytesIO(b"not in prefix"))
    listed = list(store.list(prefix))
    assert [(info.relpath, info.size) for info in listed] == [
        ("metrics/auc.json", 2),
        ("model.bin", 5),
    ]
    assert listed[1].uri == f"{prefix}/model.bin"
    info = store.stat(prefix + "/")
    assert (info.size, info.is_prefix) == (7, True)
    assert info.checksum == manifest_checksum(listed)
    assert store.exists(prefix)
    assert store.size(prefix) == 7


def test_missing_object_and_prefix(store: S3Store, s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/nothing/here"
    assert not store.exists(uri)
    with pytest.raises(ObjectNotFound, match="nothing/here"):
        store.stat(uri)
    with pytest.raises(ObjectNotFound):
        store.open(uri)
    with pytest.raises(ObjectNotFound):
        list(store.list(uri))


def test_open_streams_in_chunks(store: S3Store, s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/stream.bin"
    data = bytes(range(256)) * 1024
    store.put(uri, io.BytesIO(data))
    with store.open(uri) as reader:
        chunks = list(iter(lambda: reader.read(10_000), b""))
    assert b"".join(chunks) == data
    assert len(chunks) == 27


def test_delete_object_is_idempotent(store: S3Store, s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/once.bin"
    store.put(uri, io.BytesIO(b"abcd"))
    assert store.delete(uri) == 4
    assert not store.exists(uri)
    assert store.delete(uri) == 0


def test_delete_prefix_in_batches(store: S3Store, s3_bucket: str, s3_client: S3Client) -> None:
    def put(number: int) -> None:
        s3_client.put_object(
            Bucket=s3_bucket, Key=f"many/{number:04}.txt", Body=b"x" * (number % 7)
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, range(1100)))
    s3_client.put_object(Bucket=s3_bucket, Key="many-sibling/keep.txt", Body=b"keep")
    expected = sum(number % 7 for number in range(1100))
    assert store.delete(f"s3://{s3_bucket}/many") == expected
    remaining = s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    assert [item["Key"] for item in remaining] == ["many-sibling/keep.txt"]
    assert store.delete(f"s3://{s3_bucket}/many") == 0


def test_delete_refuses_whole_bucket(store: S3Store, s3_bucket: str) -> None:
    with pytest.raises(InvalidURI, match="whole bucket"):
        store.delete(f"s3://{s3_bucket}")


def test_download_prefix(store: S3Store, s3_bucket: str, tmp_path: Path) -> None:
    prefix = f"s3://{s3_bucket}/artifacts"
    store.put(f"{prefix}/model.bin", io.BytesIO(b"weights"))
    store.put(f"{prefix}/meta/params.json", io.BytesIO(b"{}"))
    info = store.download(prefix, tmp_path)
    assert (tmp_path / "meta" / "params.json").read_bytes() == b"{}"
    assert (tmp_path / "model.bin").read_bytes() == b"weights"
    assert info == store.stat(prefix)


def test_missing_bucket_is_named(store: S3Store) -> None:
    uri = "s3://modelyard-no-such-bucket/model.bin"
    with pytest.raises(ObjectNotFound, match="modelyard-no-such-bucket"):
        store.stat(uri)
    with pytest.raises(ObjectNotFound, match="modelyard-no-such-bucket"):
        store.put(uri, io.BytesIO(b"x"))


@pytest.fixture
def closed_port_endpoint(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return endpoint


def test_unreachable_endpoint_is_unavailable(store: S3Store, closed_port_endpoint: str) -> None:
    # Fails fast because of these settings; the test asserts them rather than a time.
    config: Any = client_for_environment().meta.config  # botocore-stubs omit these attributes
    assert (config.connect_timeout, config.retries) == (
        5,
        {"total_max_attempts": 3, "mode": "standard"},
    )
    with pytest.raises(StoreUnavailable) as raised:
        store.stat("s3://some-bucket/model.bin")
    assert closed_port_endpoint in str(raised.value)
    assert "some-bucket" in str(raised.value)
    assert (raised.value.endpoint, raised.value.bucket) == (closed_port_endpoint, "some-bucket")
