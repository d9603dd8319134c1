from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.storage import InvalidURI, ParsedURI, join_uri, parse_uri, path_to_uri, uri_to_path


def test_parse_keeps_special_characters_verbatim() -> None:
    assert parse_uri("s3://bucket/a b/c%20d?e#f") == ParsedURI("s3", "bucket", "/a b/c%20d?e#f")


def test_parse_gives_bucket_and_key() -> None:
    parsed = parse_uri("S3://models/churn/1")
    assert (parsed.scheme, parsed.bucket, parsed.key) == ("s3", "models", "churn/1")


@pytest.mark.parametrize("uri", ["", "/abs/path", "relative/path", "://x", "1s3://b/k"])
def test_parse_rejects_non_uris(uri: str) -> None:
    with pytest.raises(InvalidURI, match="file:///abs/path"):
        parse_uri(uri)


@pytest.mark.parametrize(
    ("base", "parts", "expected"),
    [
        ("s3://b/prefix/", ("a/b", "c"), "s3://b/prefix/a/b/c"),
        ("s3://b", ("x",), "s3://b/x"),
        ("file:///", ("tmp", "./y//z/"), "file:///tmp/y/z"),
    ],
)
def test_join_uses_single_slashes(base: str, parts: tuple[str, ...], expected: str) -> None:
    assert join_uri(base, *parts) == expected


@pytest.mark.parametrize("part", ["../escape", "a/../../b", "/etc/passwd"])
def test_join_rejects_escaping_parts(part: str) -> None:
    with pytest.raises(InvalidURI):
        join_uri("s3://b/prefix", part)


def test_path_and_uri_round_trip(tmp_path: Path) -> None:
    uri = path_to_uri(tmp_path / "sub" / ".." / "model.bin")
    assert uri == f"file://{tmp_path}/model.bin"
    assert uri_to_path(uri) == tmp_path / "model.bin"


@pytest.mark.parametrize("uri", ["file://relative/x", "file://", "s3://bucket/key"])
def test_uri_to_path_rejects_non_absolute_file_uris(uri: str) -> None:
    with pytest.raises(InvalidURI, match="file:///abs/path"):
        uri_to_path(uri)


def test_uri_to_path_accepts_localhost() -> None:
    assert uri_to_path("file://localhost/srv/x") == Path("/srv/x")
