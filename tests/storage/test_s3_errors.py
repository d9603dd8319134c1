"""How S3Store reports errors S3 returns; botocore's Stubber stands in for the endpoint."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from modelyard.storage import (
    BucketNotFound,
    DeletionRefused,
    IncompleteDeletion,
    StorageError,
    StoreAccessDenied,
)
from modelyard.storage.s3 import S3Store, clear_client_cache, client_for_environment

ENDPOINT = "http://s3.example.invalid:9000"


@pytest.fixture
def stubber(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", ENDPOINT)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clear_client_cache()
    with Stubber(client_for_environment()) as stub:
        yield stub
        stub.assert_no_pending_responses()
    clear_client_cache()


@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDenied", 403), ("InvalidAccessKeyId", 403), ("SignatureDoesNotMatch", 403)],
)
def test_refused_credentials_are_access_denied(stubber: Stubber, code: str, status: int) -> None:
    stubber.add_client_error("head_object", service_error_code=code, http_status_code=status)
    with pytest.raises(StoreAccessDenied) as raised:
        S3Store().stat("s3://models/m.bin")
    assert (raised.value.endpoint, raised.value.bucket) == (ENDPOINT, "models")
    assert code in str(raised.value)
    assert ENDPOINT in str(raised.value)


def test_bare_403_is_access_denied(stubber: Stubber) -> None:
    stubber.add_client_error("put_object", service_error_code="403", http_status_code=403)
    with pytest.raises(StoreAccessDenied, match="models"):
        S3Store().put("s3://models/m.bin", io.BytesIO(b"x"))


def test_missing_bucket_names_bucket_and_endpoint(stubber: Stubber) -> None:
    stubber.add_client_error("put_object", service_error_code="NoSuchBucket", http_status_code=404)
    with pytest.raises(BucketNotFound, match=r"Bucket 'models' does not exist at http://s3\."):
        S3Store().put("s3://models/m.bin", io.BytesIO(b"x"))


def unversioned(stubber: Stubber) -> None:
    stubber.add_response("get_bucket_versioning", {}, {"Bucket": "models"})


def test_per_key_delete_errors_are_reported(stubber: Stubber) -> None:
    unversioned(stubber)
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stubber.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "run/a", "Size": 1}, {"Key": "run/b", "Size": 2}]},
    )
    stubber.add_response(
        "delete_objects",
        {"Errors": [{"Key": "run/b", "Code": "InternalError", "Message": "try again"}]},
    )
    with pytest.raises(IncompleteDeletion) as raised:
        S3Store().delete("s3://models/run")
    assert "Could not delete 1 object version(s) under s3://models/run" in str(raised.value)
    assert "'run/b': InternalError try again" in str(raised.value)
    assert "2 bytes are not reclaimed (1 bytes were)" in str(raised.value)
    assert (raised.value.bytes_freed, raised.value.permanent) == (1, False)


def test_refused_keys_are_permanent_and_named(stubber: Stubber) -> None:
    stubber.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": "models"})
    versions = [
        {"Key": f"run/{name}", "VersionId": f"v{index}", "Size": 10}
        for index, name in enumerate("abcdefg")
    ]
    # First the versions of a key named exactly "run" (none), then those under "run/".
    stubber.add_response("list_object_versions", {"Versions": versions})
    stubber.add_response("list_object_versions", {"Versions": versions})
    stubber.add_response(
        "delete_objects",
        {
            "Errors": [
                {
                    "Key": f"run/{name}",
                    "VersionId": f"v{index}",
                    "Code": "AccessDenied",
                    "Message": "Access Denied because object protected by object lock.",
                }
                for index, name in enumerate("abcdef")
            ]
        },
    )
    with pytest.raises(DeletionRefused) as raised:
        S3Store().delete("s3://models/run")
    error = raised.value
    assert (error.permanent, error.bytes_freed, error.bytes_kept) == (True, 10, 60)
    assert error.kept == [f"run/{name}" for name in "abcdef"]
    message = str(error)
    assert "'run/a' (version v0): AccessDenied Access Denied because object protected" in message
    assert "'run/e' (version v4)" in message
    assert "'run/f'" not in message  # the first five are named, then a count
    assert "; and 1 more." in message
    assert "60 bytes are not reclaimed (10 bytes were)" in message


@pytest.mark.parametrize(
    ("code", "message", "permanent"),
    [
        ("AccessDenied", "Access Denied", True),
        ("InvalidRequest", "Object is WORM protected and cannot be overwritten", True),
        ("InvalidRequest", "The object is under legal hold", True),
        ("InvalidRequest", "Malformed request", False),
        ("SlowDown", "Please reduce your request rate", False),
    ],
)
def test_which_per_key_errors_are_permanent(
    stubber: Stubber, code: str, message: str, permanent: bool
) -> None:
    unversioned(stubber)
    stubber.add_response("head_object", {"ContentLength": 5})
    stubber.add_response(
        "delete_objects", {"Errors": [{"Key": "m.bin", "Code": code, "Message": message}]}
    )
    with pytest.raises(StorageError) as raised:
        S3Store().delete("s3://models/m.bin")
    assert raised.value.permanent is permanent
    assert isinstance(raised.value, DeletionRefused if permanent else IncompleteDeletion)
    assert (raised.value.bytes_freed, message in str(raised.value)) == (0, True)


def test_versioning_is_asked_once_per_bucket(stubber: Stubber) -> None:
    unversioned(stubber)
    for _ in range(2):
        stubber.add_response("head_object", {"ContentLength": 3})
        stubber.add_response("delete_objects", {})
    assert S3Store().delete("s3://models/a.bin") == 3
    assert S3Store().delete("s3://models/b.bin") == 3  # no second GetBucketVersioning


def test_without_permission_to_ask_versions_are_listed(stubber: Stubber) -> None:
    stubber.add_client_error(
        "get_bucket_versioning", service_error_code="AccessDenied", http_status_code=403
    )
    stubber.add_response(
        "list_object_versions",
        {"Versions": [{"Key": "m.bin", "VersionId": "null", "Size": 4}]},
    )
    stubber.add_response(
        "delete_objects",
        {},
        {
            "Bucket": "models",
            "Delete": {"Objects": [{"Key": "m.bin", "VersionId": "null"}], "Quiet": True},
        },
    )
    assert S3Store().delete("s3://models/m.bin") == 4


def test_a_failed_batch_still_counts_the_batches_before_it(stubber: Stubber) -> None:
    unversioned(stubber)
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    first = [{"Key": f"run/{index:04d}", "Size": 1} for index in range(1000)]
    stubber.add_response(
        "list_objects_v2", {"Contents": first, "IsTruncated": True, "NextContinuationToken": "t"}
    )
    stubber.add_response("delete_objects", {})
    stubber.add_response("list_objects_v2", {"Contents": [{"Key": "run/last", "Size": 1}]})
    stubber.add_client_error(
        "delete_objects", service_error_code="ServiceUnavailable", http_status_code=503
    )
    with pytest.raises(StorageError) as raised:
        S3Store().delete("s3://models/run")
    assert (raised.value.bytes_freed, raised.value.permanent) == (1000, False)


MiB = 1024 * 1024


def multipart_store() -> S3Store:
    return S3Store(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)


def test_failed_part_aborts_upload(stubber: Stubber) -> None:
    stubber.add_response("create_multipart_upload", {"UploadId": "up-1"})
    stubber.add_client_error(
        "upload_part", service_error_code="InternalError", http_status_code=500
    )
    stubber.add_response(
        "abort_multipart_upload", {}, {"Bucket": "models", "Key": "m.bin", "UploadId": "up-1"}
    )
    with pytest.raises(StorageError, match="InternalError"):
        multipart_store().put("s3://models/m.bin", io.BytesIO(b"x" * 6 * MiB))


def test_failed_abort_is_noted_on_original_error(stubber: Stubber) -> None:
    stubber.add_response("create_multipart_upload", {"UploadId": "up-1"})
    stubber.add_client_error(
        "upload_part", service_error_code="InternalError", http_status_code=500
    )
    stubber.add_client_error("abort_multipart_upload", service_error_code="NoSuchUpload")
    with pytest.raises(StorageError, match="InternalError") as raised:
        multipart_store().put("s3://models/m.bin", io.BytesIO(b"x" * 6 * MiB))
    assert "Also failed to abort the multipart upload" in raised.value.__notes__[0]


def test_object_that_cannot_be_tagged_is_removed(stubber: Stubber) -> None:
    stubber.add_response("create_multipart_upload", {"UploadId": "up-1"})
    stubber.add_response("upload_part", {"ETag": '"part-1"'})
    stubber.add_response("complete_multipart_upload", {})
    stubber.add_client_error(
        "put_object_tagging", service_error_code="AccessDenied", http_status_code=403
    )
    stubber.add_response("delete_object", {}, {"Bucket": "models", "Key": "m.bin"})
    with pytest.raises(StoreAccessDenied, match="AccessDenied"):
        multipart_store().put("s3://models/m.bin", io.BytesIO(b"x" * 5 * MiB))
