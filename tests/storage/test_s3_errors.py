"""How S3Store reports errors S3 returns; botocore's Stubber stands in for the endpoint."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from modelyard.storage import BucketNotFound, StorageError, StoreAccessDenied
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


def test_per_key_delete_errors_are_reported(stubber: Stubber) -> None:
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stubber.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "run/a", "Size": 1}, {"Key": "run/b", "Size": 2}]},
    )
    stubber.add_response(
        "delete_objects",
        {"Errors": [{"Key": "run/b", "Code": "InternalError", "Message": "try again"}]},
    )
    with pytest.raises(
        StorageError, match=r"delete 1 object\(s\) under s3://models/run, e\.g\. 'run/b'"
    ):
        S3Store().delete("s3://models/run")


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
