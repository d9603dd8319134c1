"""The registry on a real S3 endpoint (moto's server over HTTP, driven by boto3 as AWS is)."""

from __future__ import annotations

import hashlib
import socket

import pytest

from modelyard.lib.errors import Conflict
from modelyard.registry.models import AssetVersion, LifecycleState

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def s3_root(s3_bucket: str, settings) -> str:
    settings.ARTIFACT_ROOT = f"s3://{s3_bucket}/artifacts"
    return s3_bucket


@pytest.fixture
def declared(s3_bucket: str, declare_store) -> str:
    """The bucket declared a store every team may use and modelyard may delete in."""
    declare_store(f"s3://{s3_bucket}/", delete=True)
    return s3_bucket


@pytest.fixture
def churn(alice) -> None:
    assert alice.post("/models", {"team": "red", "name": "churn"}).status_code == 201


def keys(s3_client, bucket: str) -> list[str]:
    listed = s3_client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_upload_to_s3_root_and_download_back(alice, churn, s3_root, s3_client) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    response = alice.upload("/models/red/churn/versions/upload", {"model.bin": payload}, {})
    assert response.status_code == 201, response.content
    artifact = response.json()["artifacts"][0]
    assert artifact["uri"].startswith(f"s3://{s3_root}/artifacts/red/model/churn/")
    assert artifact["checksum"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    downloaded = alice.get("/models/red/churn/versions/1/files/model.bin")
    assert b"".join(downloaded.streaming_content) == payload


def test_existing_prefix_is_referenced_not_copied(
    alice, churn, s3_bucket, declared, s3_client
) -> None:
    for index in range(5):
        s3_client.put_object(Bucket=s3_bucket, Key=f"teams/red/m/part-{index}", Body=b"x" * 10)
    response = alice.post(
        "/models/red/churn/versions",
        {"artifacts": [{"name": "model", "uri": f"s3://{s3_bucket}/teams/red/m"}]},
    )
    assert response.status_code == 201, response.content
    artifact = response.json()["artifacts"][0]
    assert (artifact["size_bytes"], artifact["is_prefix"], artifact["uploaded"]) == (
        50,
        True,
        False,
    )
    assert len(keys(s3_client, s3_bucket)) == 5
    files = alice.get("/models/red/churn/versions/1/files").json()
    assert [f["path"] for f in files] == [f"model/part-{i}" for i in range(5)]


def test_missing_s3_object_is_400_and_no_version(alice, churn, s3_bucket, declared) -> None:
    response = alice.post(
        "/models/red/churn/versions",
        {"artifacts": [{"name": "m", "uri": f"s3://{s3_bucket}/no/such/key"}]},
    )
    assert response.status_code == 400
    assert "no/such/key" in response.json()["message"]
    assert AssetVersion.objects.count() == 0


def test_unreachable_endpoint_names_endpoint_and_bucket(
    alice, churn, s3_env, monkeypatch, declare_store
) -> None:
    declare_store("s3://lost-bucket/")
    from modelyard.storage import clear_store_cache
    from modelyard.storage.s3 import clear_client_cache

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    clear_store_cache()
    clear_client_cache()
    response = alice.post(
        "/models/red/churn/versions", {"artifacts": [{"name": "m", "uri": "s3://lost-bucket/m"}]}
    )
    assert response.status_code == 503
    message = response.json()["message"]
    assert dead in message
    assert "lost-bucket" in message
    assert AssetVersion.objects.count() == 0


def test_deleting_an_s3_prefix_version_removes_every_object(
    alice, churn, s3_bucket, declared, s3_client, django_capture_on_commit_callbacks
) -> None:
    for index in range(20):  # batching past 1000 keys is covered in tests/storage
        s3_client.put_object(Bucket=s3_bucket, Key=f"big/part-{index:04d}", Body=b"y")
    alice.post(
        "/models/red/churn/versions",
        {"artifacts": [{"name": "parts", "uri": f"s3://{s3_bucket}/big"}]},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.delete("/models/red/churn/versions/1", reason="too big").status_code == 202
    version = AssetVersion.objects.get()
    assert version.lifecycle_state == LifecycleState.DELETED
    assert version.bytes_reclaimed == 20
    assert keys(s3_client, s3_bucket) == []


@pytest.mark.parametrize(
    "key",
    ["other/m", "models-old/m", "models/../other/m", "models/%2E%2E/other/m", "MODELS/m"],
)
def test_s3_uris_outside_a_declared_prefix_are_refused(
    alice, churn, s3_bucket, s3_client, declare_store, key: str
) -> None:
    declare_store(f"s3://{s3_bucket}/models/", teams=["red"])
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b"the server's credentials read this")
    response = alice.post(
        "/models/red/churn/versions",
        {"artifacts": [{"name": "m", "uri": f"s3://{s3_bucket}/{key}"}]},
    )
    assert response.status_code == 403, response.content
    assert "is not under a declared store that team 'red' may use" in response.json()["message"]
    assert AssetVersion.objects.count() == 0


def test_s3_inside_a_declared_prefix_is_read_but_not_deleted_without_leave(
    alice, churn, s3_bucket, s3_client, declare_store
) -> None:
    declare_store(f"s3://{s3_bucket}/models/", teams=["red"], delete=False)
    s3_client.put_object(Bucket=s3_bucket, Key="models/churn/m", Body=b"m")
    response = alice.post(
        "/models/red/churn/versions",
        {"artifacts": [{"name": "m", "uri": f"s3://{s3_bucket}/models/churn/m"}]},
    )
    assert response.status_code == 201, response.content
    assert b"".join(alice.get("/models/red/churn/versions/1/files/m").streaming_content) == b"m"
    from modelyard.registry import services
    from modelyard.registry.access import tracker

    tracker().flush()  # the download's use, written before the test's rollback

    version = AssetVersion.objects.get()
    with pytest.raises(Conflict, match="where modelyard may not delete"):
        services.schedule_deletion("test", version, "bye")
    # A row queued before the store's rule changed: the worker refuses it as well.
    AssetVersion.objects.filter(pk=version.pk).update(lifecycle_state="deleting")
    assert services.delete_bytes(version.pk) == 0
    assert keys(s3_client, s3_bucket) == ["models/churn/m"]
