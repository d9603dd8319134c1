"""Amazon S3 and S3-compatible storage: ``s3://bucket/key/or/prefix``.

Credentials, region and endpoint come from the standard AWS configuration, including
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_S3`` (read by botocore itself), so one
code path serves AWS, MinIO and the moto server used in tests.

Deleting in a bucket that has ever had versioning enabled removes every object version
and delete marker under the key, by version id: a plain delete there would only stack a
delete marker on top and free nothing. Unversioned buckets get plain batched deletes, so
they need no permission beyond ``s3:ListBucket`` and ``s3:DeleteObject``.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
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
    DeletionRefused,
    IncompleteDeletion,
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
# How long a bucket found unversioned is trusted to stay so. Versioning can be switched
# on at any time (never back off), and a stale answer would leave every byte behind.
UNVERSIONED_RECHECK_SECONDS = 300.0
KEPT_KEYS_SHOWN = 5  # how many undeletable keys an error message names
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
# Per-key DeleteObjects errors no retry cures: permissions, object lock, retention, legal
# hold (AWS answers AccessDenied for those; some S3-compatible servers InvalidRequest).
_LOCK_MARKERS = ("object lock", "retention", "legal hold", "worm", "locked")
_UNAVAILABLE_ERRORS = (
    BotoConnectionError,  # includes EndpointConnectionError and ConnectTimeoutError
    ReadTimeoutError,
    ConnectionClosedError,
    ResponseStreamingError,
    IncompleteReadError,
)

_clients: dict[tuple[str | None, ...], S3Client] = {}
_clients_lock = threading.Lock()
# Buckets by (endpoint, name): versioned ones for good, unversioned ones until a time.
_versioned_buckets: set[tuple[str, str]] = set()
_unversioned_until: dict[tuple[str, str], float] = {}


def client_for_environment() -> S3Client:
    """Return a client for the current AWS environment, shared while it is unchanged."""
    key = tuple(os.environ.get(name) for name in _CLIENT_ENVIRONMENT)
    with _clients_lock:
        if key not in _clients:
            # A Session per client: boto3's default session is not thread-safe.
            _clients[key] = boto3.session.Session().client("s3", config=CLIENT_CONFIG)
        return _clients[key]


def clear_client_cache() -> None:
    """Forget every cached client and bucket versioning status (tests that change AWS_*
    variables call this)."""
    with _clients_lock:
        _clients.clear()
        _versioned_buckets.clear()
        _unversioned_until.clear()


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
        """Delete the object, or everything under the prefix; return the bytes removed.

        In a versioned bucket (versioning enabled or suspended) that is every version
        and delete marker of every key, each deleted by version id, and the bytes are
        the sizes of the versions removed. Keys S3 refuses to delete (permissions,
        object lock, retention, legal hold) do not stop the rest: they are gathered
        into one DeletionRefused naming them, whose ``bytes_freed`` is what did go.
        """
        target = _target(uri)
        if not target.key:
            raise InvalidURI(f"Refusing to delete the whole bucket {uri}; name a prefix.")
        deletion = _Deletion(target)
        if _holds_versions(target):
            deletion.run(_versions_to_delete(target))
        else:
            deletion.run(self._objects_to_delete(target))
        return deletion.finish()

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

    def _objects_to_delete(self, target: _Target) -> Iterator[builtins.list[_Version]]:
        """Pages of current objects to delete in an unversioned bucket: the named object
        if there is one, else everything under the prefix, folder markers included."""
        head = self._head(target)
        if head is not None:
            yield [_Version(target.key, None, head["ContentLength"])]
            return
        paginator = target.client.get_paginator("list_objects_v2")
        with target.errors():
            for page in paginator.paginate(Bucket=target.bucket, Prefix=target.prefix):
                yield [
                    _Version(item["Key"], None, item["Size"]) for item in page.get("Contents", [])
                ]


@dataclass(frozen=True)
class _Version:
    """One thing to delete: a key, with a version id in a versioned bucket."""

    key: str
    version_id: str | None
    size: int  # 0 for a delete marker

    @property
    def identifier(self) -> ObjectIdentifierTypeDef:
        if self.version_id is None:
            return {"Key": self.key}
        return {"Key": self.key, "VersionId": self.version_id}


def _iter_listing(target: _Target) -> Iterator[ObjectTypeDef]:
    """Yield every listing entry under the target's prefix, page by page."""
    paginator = target.client.get_paginator("list_objects_v2")
    with target.errors():
        for page in paginator.paginate(Bucket=target.bucket, Prefix=target.prefix):
            yield from page.get("Contents", [])


def _holds_versions(target: _Target) -> bool:
    """Whether the bucket may hold object versions: versioning enabled or suspended.

    Asked once per bucket and remembered (unversioned only for a while, see
    UNVERSIONED_RECHECK_SECONDS), so a delete costs no extra request. Without the
    permission to ask, assume versions: listing them is right in either kind of bucket.
    """
    bucket = (target.endpoint, target.bucket)
    with _clients_lock:
        if bucket in _versioned_buckets:
            return True
        if _unversioned_until.get(bucket, 0.0) > time.monotonic():
            return False
    with target.errors():
        try:
            status = target.client.get_bucket_versioning(Bucket=target.bucket).get("Status")
        except ClientError as error:
            if _error_code(error) in _ACCESS_DENIED_CODES:
                return True
            raise
    with _clients_lock:
        if status:  # "Enabled" or "Suspended": old versions may exist either way
            _versioned_buckets.add(bucket)
        else:
            _unversioned_until[bucket] = time.monotonic() + UNVERSIONED_RECHECK_SECONDS
    return bool(status)


def _versions_to_delete(target: _Target) -> Iterator[list[_Version]]:
    """Pages of every version and delete marker of the named key if it has any, else of
    every key under the prefix. Mirrors the unversioned rule (the object, else the
    prefix), judged by versions so that a key hidden by a delete marker still counts."""
    if target.names_object:
        exact = _versions_of_key(target)
        if exact:
            yield exact
            return
    yield from _one_page_ahead(_iter_version_pages(target, target.prefix))


def _one_page_ahead(pages: Iterator[list[_Version]]) -> Iterator[list[_Version]]:
    """Hand out each page only once the next one has been listed.

    A version listing resumes after the last version of the previous page. S3 does
    not mind if that version has been deleted meanwhile, but some S3-compatible
    servers (moto among them) then end the listing early, leaving the rest behind.
    """
    previous: list[_Version] | None = None
    for page in pages:
        if previous is not None:
            yield previous
        previous = page
    if previous is not None:
        yield previous


def _versions_of_key(target: _Target) -> list[_Version]:
    """The versions of exactly ``target.key``. Listing by prefix also returns longer
    keys; they sort after it, so listing stops at the first page that reaches one."""
    found: list[_Version] = []
    for page in _iter_version_pages(target, target.key):
        found += [version for version in page if version.key == target.key]
        if any(version.key != target.key for version in page):
            break
    return found


def _iter_version_pages(target: _Target, prefix: str) -> Iterator[list[_Version]]:
    """Each page of ListObjectVersions under ``prefix``: versions and delete markers."""
    paginator = target.client.get_paginator("list_object_versions")
    with target.errors():
        for page in paginator.paginate(Bucket=target.bucket, Prefix=prefix):
            versions = [
                _Version(item["Key"], item["VersionId"], item["Size"])
                for item in page.get("Versions", [])
            ]
            markers = [
                _Version(item["Key"], item["VersionId"], 0)
                for item in page.get("DeleteMarkers", [])
            ]
            yield versions + markers


@dataclass
class _Deletion:
    """Deletes in batches of DELETE_BATCH_SIZE, counting what went and what S3 refused.

    Failed keys do not stop later batches: one locked object should not keep the rest
    of a prefix alive. ``finish`` then reports them all at once.
    """

    target: _Target
    freed: int = 0
    refused: list[tuple[_Version, ErrorTypeDef]] = field(default_factory=list)
    failed: list[tuple[_Version, ErrorTypeDef]] = field(default_factory=list)

    def run(self, pages: Iterable[list[_Version]]) -> None:
        try:
            for page in pages:
                for start in range(0, len(page), DELETE_BATCH_SIZE):
                    self._delete(page[start : start + DELETE_BATCH_SIZE])
        except StorageError as error:
            error.bytes_freed = self.freed  # the batches before the failure did go
            raise

    def _delete(self, batch: list[_Version]) -> None:
        objects = [version.identifier for version in batch]
        with self.target.errors():
            response = self.target.client.delete_objects(
                Bucket=self.target.bucket, Delete={"Objects": objects, "Quiet": True}
            )
        errors = response.get("Errors", [])
        undeleted = _match_errors(batch, errors)
        self.freed += sum(version.size for version in batch if version not in undeleted)
        for version, error in undeleted.items():
            permanent = _is_permanent_refusal(error)
            (self.refused if permanent else self.failed).append((version, error))

    def finish(self) -> int:
        """Return the bytes freed, or raise naming every key that could not be deleted."""
        if self.refused:
            raise DeletionRefused(
                self._message(self.refused + self.failed)
                + " Object lock, retention or a legal hold keeps a version until it lapses "
                "or is lifted; access denied needs s3:DeleteObject (and "
                "s3:DeleteObjectVersion in a versioned bucket). Fix that, then delete "
                "again: what is already gone is not deleted twice.",
                bytes_freed=self.freed,
                bytes_kept=_total(self.refused + self.failed),
                kept=[version.key for version, _ in self.refused + self.failed],
            )
        if self.failed:
            raise IncompleteDeletion(
                self._message(self.failed) + " Retry the delete: it is idempotent.",
                bytes_freed=self.freed,
            )
        return self.freed

    def _message(self, undeleted: list[tuple[_Version, ErrorTypeDef]]) -> str:
        shown = "; ".join(
            f"{version.key!r}{_version_label(version)}: {_reason(error)}"
            for version, error in undeleted[:KEPT_KEYS_SHOWN]
        )
        more = len(undeleted) - KEPT_KEYS_SHOWN
        return (
            f"Could not delete {len(undeleted)} object version(s) under {self.target.uri} "
            f"at {self.target.endpoint}; their {_total(undeleted):,} bytes are not "
            f"reclaimed ({self.freed:,} bytes were). {shown}"
            + (f"; and {more} more." if more > 0 else ".")
        )


def _match_errors(
    batch: list[_Version], errors: list[ErrorTypeDef]
) -> dict[_Version, ErrorTypeDef]:
    """Which versions of the batch each error is about.

    An error naming a version id matches that version; one naming only a key (some
    S3-compatible servers) matches every version of that key in the batch, so the
    bytes freed are never overstated.
    """
    by_version = {(e.get("Key"), e.get("VersionId")): e for e in errors if e.get("VersionId")}
    by_key = {e.get("Key"): e for e in errors if not e.get("VersionId")}
    matched: dict[_Version, ErrorTypeDef] = {}
    for version in batch:
        error = by_version.get((version.key, version.version_id)) or by_key.get(version.key)
        if error is not None:
            matched[version] = error
    return matched


def _is_permanent_refusal(error: ErrorTypeDef) -> bool:
    code, message = error.get("Code", ""), error.get("Message", "").lower()
    if code in _ACCESS_DENIED_CODES or code == "MethodNotAllowed":
        return True
    return code == "InvalidRequest" and any(marker in message for marker in _LOCK_MARKERS)


def _reason(error: ErrorTypeDef) -> str:
    return f"{error.get('Code', '')} {error.get('Message', '')}".strip()


def _version_label(version: _Version) -> str:
    return f" (version {version.version_id})" if version.version_id else ""


def _total(undeleted: list[tuple[_Version, ErrorTypeDef]]) -> int:
    return sum(version.size for version, _ in undeleted)


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
