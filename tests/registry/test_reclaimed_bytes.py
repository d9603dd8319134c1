"""Bytes reclaimed are measured where the bytes were, not copied from the registration.

Real services throughout: moto's S3 server with versioning and object lock, and the
Spark Thrift Server for Hive (the session's one server).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard import storage
from modelyard.registry import services
from modelyard.registry.models import AssetVersion, LifecycleState

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _stores_declared(declare_store) -> None:
    """Every bucket and Hive database these tests make lies in a store red may delete in."""
    global _declare
    _declare = declare_store


_declare: Any = None


def register(alice, kind: str, name: str, uri: str) -> AssetVersion:
    _declare(uri.rsplit("/", 1)[0] + "/", teams=["red"], delete=True)
    alice.post(f"/{kind}s", {"team": "red", "name": name})
    response = alice.post(
        f"/{kind}s/red/{name}/versions", {"artifacts": [{"name": "data", "uri": uri}]}
    )
    assert response.status_code == 201, response.content
    return AssetVersion.objects.get(asset__name=name)


def deleted_details(alice, kind: str) -> dict[str, Any]:
    return alice.get("/audit", action=f"{kind}.deleted").json()["items"][0]["details"]


@pytest.fixture
def versioned_bucket(s3_client) -> str:
    name = f"modelyard-versioned-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def locked_bucket(s3_client) -> str:
    name = f"modelyard-locked-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_versioned_s3_prefix_reclaims_every_version(alice, s3_client, versioned_bucket) -> None:
    for body in (b"a" * 1000, b"a" * 3000):
        s3_client.put_object(Bucket=versioned_bucket, Key="train/part-0", Body=body)
    s3_client.put_object(Bucket=versioned_bucket, Key="train/part-1", Body=b"b" * 5)
    version = register(alice, "dataset", "train", f"s3://{versioned_bucket}/train")
    s3_client.delete_object(Bucket=versioned_bucket, Key="train/part-1")  # a delete marker

    services.schedule_deletion("test", version, "versioned")
    assert services.delete_bytes(version.pk) == 4005
    version.refresh_from_db()
    assert (version.lifecycle_state, version.bytes_reclaimed) == (LifecycleState.DELETED, 4005)
    assert deleted_details(alice, "dataset") == {
        "bytes_reclaimed": 4005,
        "registered_bytes": 3005,
    }
    assert "Versions" not in s3_client.list_object_versions(Bucket=versioned_bucket)


def test_object_lock_keeps_the_version_deleting_and_counts_only_what_went(
    alice, s3_client, locked_bucket
) -> None:
    s3_client.put_object(Bucket=locked_bucket, Key="run/free.bin", Body=b"f" * 300)
    s3_client.put_object(
        Bucket=locked_bucket, Key="run/held.bin", Body=b"h" * 77, ObjectLockLegalHoldStatus="ON"
    )
    version = register(alice, "dataset", "held", f"s3://{locked_bucket}/run")
    services.schedule_deletion("test", version, "locked")

    with pytest.raises(storage.DeletionRefused) as raised:
        services.delete_bytes(version.pk)
    assert raised.value.permanent
    version.refresh_from_db()
    assert (version.lifecycle_state, version.bytes_reclaimed) == (LifecycleState.DELETING, 300)
    assert "'run/held.bin'" in version.deletion_error
    assert "77 bytes are not reclaimed" in version.deletion_error

    s3_client.put_object_legal_hold(
        Bucket=locked_bucket, Key="run/held.bin", LegalHold={"Status": "OFF"}
    )
    assert services.delete_bytes(version.pk) == 77
    version.refresh_from_db()
    assert (version.lifecycle_state, version.bytes_reclaimed) == (LifecycleState.DELETED, 377)
    assert version.deletion_error == ""
    assert deleted_details(alice, "dataset")["bytes_reclaimed"] == 377


@pytest.fixture
def hive_database(hive_cursor) -> Iterator[str]:
    name = f"modelyard_{uuid.uuid4().hex[:12]}"
    hive_cursor.execute(f"CREATE DATABASE {name}")
    yield name
    hive_cursor.execute(f"DROP DATABASE IF EXISTS {name} CASCADE")


def table_location(hive_cursor, database: str, table: str) -> Path:
    hive_cursor.execute(f"DESCRIBE FORMATTED {database}.{table}")
    location = next(row[1] for row in hive_cursor.fetchall() if row[0] == "Location")
    return Path(location.removeprefix("file:"))


def test_hive_table_grown_after_registration_reclaims_its_files_at_drop(
    alice, hive_server, hive_cursor, hive_database
) -> None:
    table = f"{hive_database}.events"
    hive_cursor.execute(f"CREATE TABLE {table} (id INT, name STRING) STORED AS PARQUET")
    hive_cursor.execute(f"INSERT INTO {table} VALUES (1, 'a')")  # noqa: S608
    host, port = hive_server
    uri = f"hive://{host}:{port}/{hive_database}/events"
    version = register(alice, "dataset", "events", uri)
    registered = version.artifacts.get().size_bytes
    for batch in range(3):  # the table grows after registration
        hive_cursor.execute(f"INSERT INTO {table} VALUES ({batch}, 'more rows')")  # noqa: S608
    location = table_location(hive_cursor, hive_database, "events")
    on_disk = sum(path.stat().st_size for path in location.rglob("*") if path.is_file())
    assert on_disk > registered > 0

    services.schedule_deletion("test", version, "grown")
    assert services.delete_bytes(version.pk) == on_disk
    assert not location.exists()
    version.refresh_from_db()
    assert version.bytes_reclaimed == on_disk
    assert deleted_details(alice, "dataset") == {
        "bytes_reclaimed": on_disk,
        "registered_bytes": registered,
    }


def test_an_external_table_whose_files_lie_outside_the_teams_stores_is_not_deleted(
    alice, hive_server, hive_cursor, hive_database, tmp_path, declare_store
) -> None:
    """The table is in a Hive database red may delete in, but its LOCATION is a folder no
    store declares: dropping it would delete those files with modelyard's credentials."""
    elsewhere = tmp_path / "not_reds" / "orders"
    table = f"{hive_database}.orders"
    hive_cursor.execute(
        f"CREATE EXTERNAL TABLE {table} (id INT) STORED AS PARQUET LOCATION '{elsewhere}'"
    )
    hive_cursor.execute(f"INSERT INTO {table} VALUES (1)")  # noqa: S608
    host, port = hive_server
    uri = f"hive://{host}:{port}/{hive_database}/orders"
    version = register(alice, "dataset", "orders", uri)
    on_disk = sorted(path for path in elsewhere.rglob("*") if path.is_file())
    assert on_disk

    services.schedule_deletion("test", version, "unused")
    assert services.delete_bytes(version.pk) == 0
    version.refresh_from_db()
    assert version.lifecycle_state == LifecycleState.DELETING
    assert f"Deleting {uri} would also delete its files: {elsewhere.as_uri()}" in (
        version.deletion_error
    )
    assert "not under a declared store" in version.deletion_error
    assert sorted(path for path in elsewhere.rglob("*") if path.is_file()) == on_disk
    assert storage.get_store(uri).exists(uri)

    # Declared as a store red may delete in, the same deletion goes through.
    declare_store(elsewhere.parent.as_uri() + "/", teams=["red"], delete=True)
    assert services.delete_bytes(version.pk) > 0
    assert not elsewhere.exists()
    assert not storage.get_store(uri).exists(uri)
