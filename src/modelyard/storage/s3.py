"""Amazon S3 and S3-compatible storage: ``s3://bucket/key/or/prefix``.

Credentials, region and endpoint come from the standard AWS configuration, including
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_S3`` (read by botocore itself), so one
code path serves AWS, MinIO and the moto server used in tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from modelyard.storage.base import (
    CHUNK_SIZE,
    ObjectInfo,
    ProgressCallback,
    Store,
    check_declared_size,
    prefix_info,
    read_exactly,
    sha256_checksum,
)
from modelyard.storage.errors import (
    BucketNotFound,
    InvalidURI,
    ObjectNotFound,
    StorageError,
    StoreAccessDenied,
    StoreUnavailable,
)
from modelyard.storage.uris import parse_uri

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        ErrorTypeDef,
        HeadObjectOutputTypeDef,
        ObjectIdentifierTypeDef,
        ObjectTypeDef,
    )

MIN_PART_SIZE = 5 * 1024 * 1024  # S3 rejects smaller parts, except the last one
MAX_PARTS = 10_000
DELETE_BATCH_SIZE = 1000  # the most keys one DeleteObjects call accepts
SHA256_KEY = "sha256"  # object metadata key, and tag key for multipart uploads

# Short connect timeout and few retries: an unreachable endpoint should fail in
# seconds with StoreUnavailable, not hang a request or a worker for minutes.
# total_max_attempts counts the first try; botocore's "max_attempts" key would not.
CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 3, "mode": "standard"}
)
# Environment variables that change which client is right; part of the cache key.
_CLIENT_ENVIRONMENT = (
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
)
_ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_UNAVAILABLE_ERRORS = (
    BotoConnectionError,  # includes EndpointConnectionError and ConnectTimeoutError
    ReadTimeoutError,
    ConnectionClosedError,
    ResponseStreamingError,
    IncompleteReadError,
)

_clients: dict[tuple[str | None, ...], S3Client] = {}
_clients_lock = threading.Lock()


def client_for_environment() -> S3Client:
    """Return a client for the current AWS environment, shared while it is unchanged."""
    key = tuple(os.environ.get(name) for name in _CLIENT_ENVIRONMENT)
    with _clients_lock:
        if key not in _clients:
            # A Session per client: boto3's default session is not thread-safe.
            _clients[key] = boto3.session.Session().client("s3", config=CLIENT_CONFIG)
        return _clients[key]


def clear_client_cache() -> None:
    """Forget every cached client (tests that change AWS_* variables call this)."""
    with _clients_lock:
        _clients.clear()


@dataclass(frozen=True)
class _Target:
    """One URI resolved to a bucket, a key and the client to reach them."""

    uri: str
    bucket: str
    key: str
    client: S3Client = field(repr=False)

    @property
    def endpoint(self) -> str:
        return str(self.client.meta.endpoint_url)

    @property
    def prefix(self) -> str:
        """The key as a prefix: everything "inside" it, or the whole bucket."""
        return self.key.rstrip("/") + "/" if self.key else ""

    @property
    def names_object(self) -> bool:
        """Whether the key could name an object (``dir/`` names a prefix only)."""
        return bool(self.key) and not self.key.endswith("/")

    def object_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def errors(self) -> AbstractContextManager[None]:
        return _translate_errors(self)


def _target(uri: str) -> _Target:
    parsed = parse_uri(uri)
    if parsed.scheme != "s3" or not parsed.bucket:
        raise InvalidURI(f"{uri!r} is not an S3 URI; expected s3://bucket/key.")
    return _Target(uri=uri, bucket=parsed.bucket, key=parsed.key, client=client_for_environment())


class S3Store(Store):
    """Objects are S3 objects; a prefix is every key starting with ``key/``.

    ``put`` sends objects smaller than ``multipart_threshold`` in one request (held in
    memory, so memory use is bounded by the threshold) and larger ones as a multipart
    upload in parts of ``multipart_chunksize`` bytes.
    """

    scheme: ClassVar[str] = "s3"

    def __init__(
        self, *, multipart_threshold: int = CHUNK_SIZE, multipart_chunksize: int = CHUNK_SIZE
    ) -> None:
        if multipart_chunksize < MIN_PART_SIZE:
            raise ValueError(f"multipart_chunksize must be at least {MIN_PART_SIZE} bytes.")
        if multipart_threshold < 1:
            raise ValueError("multipart_threshold must be positive.")
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize

    def exists(self, uri: str) -> bool:
        target = _target(uri)
        if self._head(target) is not None:
            return True
        return next(self._iter_prefix(target), None) is not None

    def stat(self, uri: str) -> ObjectInfo:
        target = _target(uri)
        head = self._head(target)
        if head is not None:
            return self._object_info(target, head)
        return prefix_info(uri, self._list_prefix(target))

    def list(self, uri: str) -> Iterator[ObjectInfo]:
        target = _target(uri)
        head = self._head(target)
        if head is not None:
            yield self._object_info(target, head)
            return
        yield from self._list_prefix(target)

    def open(self, uri: str) -> AbstractContextManager[BinaryIO]:
        target = _target(uri)
        if not target.names_object:
            raise ObjectNotFound(uri, f"{uri} names a prefix, not an object; list() it.")
        with target.errors():
            body = target.client.get_object(Bucket=target.bucket, Key=target.key)["Body"]
        return io.BufferedReader(_BodyReader(body, target))

    def put(
        self,
        uri: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        target = _target(uri)
        if not target.names_object:
            raise InvalidURI(f"Cannot put {uri}: name an object, e.g. s3://bucket/path/file.")
        head = read_exactly(stream, self.multipart_threshold)
        with target.errors():
            if len(head) < self.multipart_threshold:
                return _put_single(target, head, size, progress)
            upload = _MultipartUpload.start(target, self._part_size(size))
            return upload.run(head, stream, size, progress)

    def delete(self, uri: str) -> int:
        target = _target(uri)
        if not target.key:
            raise InvalidURI(f"Refusing to delete the whole bucket {uri}; name a prefix.")
        head = self._head(target)
        if head is None:
            return self._delete_prefix(target)
        with target.errors():
            target.client.delete_object(Bucket=target.bucket, Key=target.key)
        return head["ContentLength"]

    def _part_size(self, size: int | None) -> int:
        # Grow parts for huge known sizes; S3 allows at most MAX_PARTS parts.
        needed = -(-size // MAX_PARTS) if size else 0
        return max(self.multipart_chunksize, needed)

    def _head(self, target: _Target) -> HeadObjectOutputTypeDef | None:
        """Head the object named by the URI; None if no such object (maybe a prefix)."""
        if not target.names_object:
            return None
        with target.errors():
            try:
                return target.client.head_object(
                    Bucket=target.bucket, Key=target.key, ChecksumMode="ENABLED"
                )
            except ClientError as error:
                if _error_code(error) in _NOT_FOUND_CODES:
                    return None
                raise

    def _object_info(self, target: _Target, head: HeadObjectOutputTypeDef) -> ObjectInfo:
        size = head["ContentLength"]
        return ObjectInfo(uri=target.uri, size=size, checksum=self._checksum(target, head))

    def _checksum(self, target: _Target, head: HeadObjectOutputTypeDef) -> str:
        """Best checksum S3 already holds: our metadata, S3's own SHA-256, a tag, the ETag."""
        if stored := head.get("Metadata", {}).get(SHA256_KEY):
            return sha256_checksum(stored)
        etag = _unquote(head.get("ETag", ""))
        if "-" not in etag:  # a multipart object's ChecksumSHA256 covers parts, not bytes
            native = head.get("ChecksumSHA256", "")
            return sha256_checksum(base64.b64decode(native).hex()) if native else f"etag:{etag}"
        tagged = _tagged_sha256(target)
        return sha256_checksum(tagged) if tagged else f"etag:{etag}"

    def _list_prefix(self, target: _Target) -> Iterator[ObjectInfo]:
        """Like _iter_prefix, but an empty prefix is ObjectNotFound."""
        found = False
        for info in self._iter_prefix(target):
            found = True
            yield info
        if not found:
            raise ObjectNotFound(target.uri)

    def _iter_prefix(self, target: _Target) -> Iterator[ObjectInfo]:
        for item in _iter_listing(target):
            key = item["Key"]
            if key.endswith("/"):  # "folder" marker written by consoles: not an object
                continue
            yield ObjectInfo(
                uri=target.object_uri(key),
                size=item["Size"],
                checksum=f"etag:{_unquote(item['ETag'])}",
                relpath=key[len(target.prefix) :],
            )

    def _delete_prefix(self, target: _Target) -> int:
        freed = 0
        batch: dict[str, int] = {}
        for item in _iter_listing(target):  # folder markers included: remove them too
            batch[item["Key"]] = item["Size"]
            if len(batch) == DELETE_BATCH_SIZE:
                freed += _delete_batch(target, batch)
                batch = {}
        return freed + (_delete_batch(target, batch) if batch else 0)


def _iter_listing(target: _Target) -> Iterator[ObjectTypeDef]:
    """Yield every listing entry under the target's prefix, page by page."""
    paginator = target.client.get_paginator("list_objects_v2")
    with target.errors():
        for page in paginator.paginate(Bucket=target.bucket, Prefix=target.prefix):
            yield from page.get("Contents", [])


def _delete_batch(target: _Target, sizes: dict[str, int]) -> int:
    objects: list[ObjectIdentifierTypeDef] = [{"Key": key} for key in sizes]
    with target.errors():
        response = target.client.delete_objects(
            Bucket=target.bucket, Delete={"Objects": objects, "Quiet": True}
        )
    if errors := response.get("Errors"):
        raise _delete_failure(target, errors)
    return sum(sizes.values())


def _delete_failure(target: _Target, errors: list[ErrorTypeDef]) -> StorageError:
    first = errors[0]
    detail = (
        f"Could not delete {len(errors)} object(s) under {target.uri}, e.g. "
        f"{first.get('Key')!r}: {first.get('Code')} {first.get('Message', '')}".rstrip()
    )
    if first.get("Code") in _ACCESS_DENIED_CODES:
        return StoreAccessDenied(target.endpoint, target.bucket, detail)
    return StorageError(f"{detail}. Retry the delete: it is idempotent.")


def _tagged_sha256(target: _Target) -> str | None:
    with target.errors():
        try:
            tags = target.client.get_object_tagging(Bucket=target.bucket, Key=target.key)
        except ClientError as error:
            # Reading tags needs its own permission; without it fall back to the ETag
            # rather than make the object unreadable.
            if _error_code(error) in _ACCESS_DENIED_CODES:
                return None
            raise
    return next((tag["Value"] for tag in tags["TagSet"] if tag["Key"] == SHA256_KEY), None)


def _put_single(
    target: _Target, data: bytes, size: int | None, progress: ProgressCallback | None
) -> ObjectInfo:
    check_declared_size(target.uri, size, len(data))
    digest = hashlib.sha256(data)
    target.client.put_object(
        Bucket=target.bucket,
        Key=target.key,
        Body=data,
        Metadata={SHA256_KEY: digest.hexdigest()},
        ChecksumSHA256=_base64(digest.digest()),  # S3 rejects the object if bytes differ
    )
    if progress is not None:
        progress(len(data))
    return ObjectInfo(uri=target.uri, size=len(data), checksum=sha256_checksum(digest.hexdigest()))


@dataclass
class _MultipartUpload:
    """A multipart upload that hashes parts as it sends them, in order.

    Why not boto3's ``upload_fileobj``: it may read parts concurrently, and metadata
    must be fixed when the upload starts, before the SHA-256 is known. So parts go
    one by one through a single running hash, and the finished object gets the hash
    as a ``sha256`` tag (``stat`` reads it). Any failure aborts the upload, so S3
    never exposes a partial object and keeps no orphaned parts.
    """

    target: _Target
    upload_id: str
    part_size: int
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    parts: list[CompletedPartTypeDef] = field(default_factory=list)
    sent: int = 0

    @classmethod
    def start(cls, target: _Target, part_size: int) -> _MultipartUpload:
        response = target.client.create_multipart_upload(
            Bucket=target.bucket, Key=target.key, ChecksumAlgorithm="SHA256"
        )
        return cls(target=target, upload_id=response["UploadId"], part_size=part_size)

    def run(
        self, head: bytes, stream: BinaryIO, size: int | None, progress: ProgressCallback | None
    ) -> ObjectInfo:
        with _undo_on_failure(self._abort, "abort the multipart upload"):
            for part in _iter_parts(head, stream, self.part_size):
                self._send(part)
                if progress is not None:
                    progress(len(part))
            check_declared_size(self.target.uri, size, self.sent)
            self._complete()
        with _undo_on_failure(self._delete, "delete the untagged object"):
            self._tag()
        return ObjectInfo(uri=self.target.uri, size=self.sent, checksum=self.checksum)

    @property
    def checksum(self) -> str:
        return sha256_checksum(self.digest.hexdigest())

    def _send(self, part: bytes) -> None:
        number = len(self.parts) + 1
        if number > MAX_PARTS:
            raise StorageError(
                f"Upload to {self.target.uri} exceeds {MAX_PARTS} parts of {self.part_size} "
                "bytes. Pass size= to put() so the part size can grow, or raise "
                "multipart_chunksize."
            )
        self.digest.update(part)
        part_checksum = _base64(hashlib.sha256(part).digest())
        response = self.target.client.upload_part(
            Bucket=self.target.bucket,
            Key=self.target.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=part,
            ChecksumSHA256=part_checksum,
        )
        self.parts.append(
            {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": part_checksum}
        )
        self.sent += len(part)

    def _complete(self) -> None:
        self.target.client.complete_multipart_upload(
            Bucket=self.target.bucket,
            Key=self.target.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    def _tag(self) -> None:
        self.target.client.put_object_tagging(
            Bucket=self.target.bucket,
            Key=self.target.key,
            Tagging={"TagSet": [{"Key": SHA256_KEY, "Value": self.digest.hexdigest()}]},
        )

    def _abort(self) -> None:
        self.target.client.abort_multipart_upload(
            Bucket=self.target.bucket, Key=self.target.key, UploadId=self.upload_id
        )

    def _delete(self) -> None:
        self.target.client.delete_object(Bucket=self.target.bucket, Key=self.target.key)


@contextlib.contextmanager
def _undo_on_failure(undo: Callable[[], None], what: str) -> Iterator[None]:
    """Run ``undo`` if the block fails (interrupts too), then re-raise the original error.

    A failing ``undo`` must not hide the error that caused it, so it becomes a note.
    """
    try:
        yield
    except BaseException as error:
        try:
            undo()
        except Exception as undo_error:  # reported on the original error below
            error.add_note(f"Also failed to {what}: {undo_error}")
        raise


def _iter_parts(head: bytes, stream: BinaryIO, part_size: int) -> Iterator[bytes]:
    """Yield ``part_size`` pieces of ``head`` followed by the rest of ``stream``."""
    buffered = io.BytesIO(head)
    while True:
        part = buffered.read(part_size)
        if len(part) < part_size:
            part += read_exactly(stream, part_size - len(part))
        if not part:
            return
        yield part


class _BodyReader(io.RawIOBase):
    """A get_object body as a raw stream, with network errors translated."""

    def __init__(self, body: StreamingBody, target: _Target) -> None:
        super().__init__()
        self._body = body
        self._target = target

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        with self._target.errors():
            data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


@contextlib.contextmanager
def _translate_errors(target: _Target) -> Iterator[None]:
    """Turn botocore exceptions into StorageError subclasses that name what failed."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        translated = _translate(error, target)
        # Keep notes such as a failed abort, which would otherwise only be in __cause__.
        for note in getattr(error, "__notes__", []):
            translated.add_note(note)
        raise translated from error


def _translate(error: BotoCoreError | ClientError, target: _Target) -> StorageError:
    if isinstance(error, ClientError):
        return _translate_client_error(error, target)
    if isinstance(error, _UNAVAILABLE_ERRORS):
        return StoreUnavailable(target.endpoint, target.bucket, str(error))
    if isinstance(error, NoCredentialsError):
        return StoreAccessDenied(target.endpoint, target.bucket, "no AWS credentials were found")
    return StorageError(f"S3 request for {target.uri} failed: {error}")


def _translate_client_error(error: ClientError, target: _Target) -> StorageError:
    code = _error_code(error)
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = error.response.get("Error", {}).get("Message", "")
    if code in _ACCESS_DENIED_CODES or status == 403:
        return StoreAccessDenied(target.endpoint, target.bucket, f"{code} {message}".strip())
    if code == "NoSuchBucket":
        return BucketNotFound(target.uri, target.bucket, target.endpoint)
    if code in _NOT_FOUND_CODES or status == 404:
        return ObjectNotFound(target.uri)
    return StorageError(
        f"S3 request for {target.uri} at {target.endpoint} failed: {code} {message}. "
        "Retry; if it persists, check the bucket configuration."
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _unquote(etag: str) -> str:
    return etag.strip('"')


def _base64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")
