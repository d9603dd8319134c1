"""S3Store.delete in versioned and object-locked buckets, on moto's server over HTTP.

A plain delete in a versioned bucket only stacks a delete marker on the current version
and frees nothing, so every version and marker must go, by version id, and the bytes
reported must be those versions' sizes. What object lock protects stays, is named, and
is not counted.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from mypy_boto3_s3 import S3Client

from modelyard.storage import DeletionRefused
from modelyard.storage import s3 as s3_module
from modelyard.storage.s3 import S3Store

pytestmark = pytest.mark.integration


@pytest.fixture
def store(s3_env: str) -> S3Store:
    return S3Store()


@pytest.fixture
def versioned_bucket(s3_client: S3Client) -> str:
    name = f"modelyard-versioned-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def locked_bucket(s3_client: S3Client) -> str:
    """A bucket created with object lock, which also turns versioning on."""
    name = f"modelyard-locked-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def versions_under(client: S3Client, bucket: str, prefix: str = "") -> list[tuple[str, int]]:
    """Every (key, size) version under ``prefix``, delete markers as size -1."""
    listed = client.list_object_versions(Bucket=bucket, Prefix=prefix)
    versions = [(item["Key"], item["Size"]) for item in listed.get("Versions", [])]
    markers = [(item["Key"], -1) for item in listed.get("DeleteMarkers", [])]
    return sorted(versions + markers)


def test_prefix_delete_removes_every_version_and_delete_marker(
    store: S3Store, s3_client: S3Client, versioned_bucket: str
) -> None:
    put = s3_client.put_object
    for body in (b"a" * 100, b"a" * 200, b"a" * 300):  # three versions of one object
        put(Bucket=versioned_bucket, Key="model/1/weights.bin", Body=body)
    put(Bucket=versioned_bucket, Key="model/1/config.json", Body=b"c" * 40)
    s3_client.delete_object(Bucket=versioned_bucket, Key="model/1/config.json")  # a marker
    put(Bucket=versioned_bucket, Key="model/10/keep.bin", Body=b"k")  # a sibling prefix
    assert len(versions_under(s3_client, versioned_bucket, "model/1/")) == 5

    assert store.delete(f"s3://{versioned_bucket}/model/1") == 100 + 200 + 300 + 40
    assert versions_under(s3_client, versioned_bucket, "model/1/") == []
    assert versions_under(s3_client, versioned_bucket) == [("model/10/keep.bin", 1)]
    assert store.delete(f"s3://{versioned_bucket}/model/1") == 0


def test_object_delete_removes_its_versions_only(
    store: S3Store, s3_client: S3Client, versioned_bucket: str
) -> None:
    for body in (b"x" * 10, b"x" * 20):
        s3_client.put_object(Bucket=versioned_bucket, Key="m.bin", Body=body)
    s3_client.put_object(Bucket=versioned_bucket, Key="m.bin.sig", Body=b"s" * 5)

    assert store.delete(f"s3://{versioned_bucket}/m.bin") == 30
    assert versions_under(s3_client, versioned_bucket) == [("m.bin.sig", 5)]
    assert store.delete(f"s3://{versioned_bucket}/m.bin") == 0


def test_object_hidden_by_a_delete_marker_is_still_removed(
    store: S3Store, s3_client: S3Client, versioned_bucket: str
) -> None:
    # What the old plain delete left behind: the data, under a delete marker.
    s3_client.put_object(Bucket=versioned_bucket, Key="gone.bin", Body=b"g" * 64)
    s3_client.delete_object(Bucket=versioned_bucket, Key="gone.bin")
    assert not store.exists(f"s3://{versioned_bucket}/gone.bin")

    assert store.delete(f"s3://{versioned_bucket}/gone.bin") == 64
    assert versions_under(s3_client, versioned_bucket) == []


def test_suspended_versioning_still_holds_old_versions(
    store: S3Store, s3_client: S3Client, versioned_bucket: str
) -> None:
    # moto drops the older versions of a key written again while suspended (S3 keeps
    # them), so the object is written only while versioning is on.
    for body in (b"o" * 7, b"n" * 3):
        s3_client.put_object(Bucket=versioned_bucket, Key="run/old.bin", Body=body)
    s3_client.put_bucket_versioning(
        Bucket=versioned_bucket, VersioningConfiguration={"Status": "Suspended"}
    )

    assert store.delete(f"s3://{versioned_bucket}/run") == 10
    assert versions_under(s3_client, versioned_bucket) == []


def test_bucket_versioned_after_it_was_seen_unversioned(
    store: S3Store, s3_client: S3Client, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "UNVERSIONED_RECHECK_SECONDS", 0.0)
    s3_client.put_object(Bucket=s3_bucket, Key="first.bin", Body=b"1")
    assert store.delete(f"s3://{s3_bucket}/first.bin") == 1  # seen unversioned
    s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2!"):
        s3_client.put_object(Bucket=s3_bucket, Key="second.bin", Body=body)

    assert store.delete(f"s3://{s3_bucket}/second.bin") == 5  # asked again
    assert versions_under(s3_client, s3_bucket) == []


def test_more_versions_than_one_batch(
    store: S3Store, s3_client: S3Client, versioned_bucket: str
) -> None:
    def put_twice(number: int) -> None:
        for body in (b"x" * (number % 5), b"y" * (number % 3)):
            s3_client.put_object(Bucket=versioned_bucket, Key=f"many/{number:04}", Body=body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put_twice, range(520)))  # 1,040 versions: two pages, two batches
    expected = sum(number % 5 + number % 3 for number in range(520))

    assert store.delete(f"s3://{versioned_bucket}/many") == expected
    assert versions_under(s3_client, versioned_bucket) == []


LockPut = Callable[[S3Client, str, str, bytes], None]


def legal_hold(client: S3Client, bucket: str, key: str, body: bytes) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body, ObjectLockLegalHoldStatus="ON")


def governance_retention(client: S3Client, bucket: str, key: str, body: bytes) -> None:
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )


@pytest.mark.parametrize("lock", [legal_hold, governance_retention])
def test_locked_versions_stay_are_named_and_are_not_counted(
    store: S3Store, s3_client: S3Client, locked_bucket: str, lock: LockPut
) -> None:
    for body in (b"f" * 30, b"f" * 70):
        s3_client.put_object(Bucket=locked_bucket, Key="run/free.bin", Body=body)
    lock(s3_client, locked_bucket, "run/locked.bin", b"L" * 500)

    with pytest.raises(DeletionRefused) as raised:
        store.delete(f"s3://{locked_bucket}/run")
    error = raised.value
    assert (error.permanent, error.bytes_freed, error.bytes_kept) == (True, 100, 500)
    assert error.kept == ["run/locked.bin"]
    assert "'run/locked.bin'" in str(error)
    assert "object lock" in str(error)
    assert "500 bytes are not reclaimed (100 bytes were)" in str(error)
    assert versions_under(s3_client, locked_bucket) == [("run/locked.bin", 500)]


def test_lifted_legal_hold_lets_a_second_delete_finish(
    store: S3Store, s3_client: S3Client, locked_bucket: str
) -> None:
    legal_hold(s3_client, locked_bucket, "run/held.bin", b"h" * 9)
    s3_client.put_object(Bucket=locked_bucket, Key="run/free.bin", Body=b"f")
    with pytest.raises(DeletionRefused):
        store.delete(f"s3://{locked_bucket}/run")
    s3_client.put_object_legal_hold(
        Bucket=locked_bucket, Key="run/held.bin", LegalHold={"Status": "OFF"}
    )

    assert store.delete(f"s3://{locked_bucket}/run") == 9
    assert versions_under(s3_client, locked_bucket) == []
