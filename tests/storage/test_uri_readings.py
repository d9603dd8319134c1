"""Where a URI really leads: the readings the declared-store check compares (storage.uris)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.storage import InvalidURI, is_within, normalise_uri, resolved_files, uri_readings


def test_dot_segments_collapse(tmp_path: Path) -> None:
    assert uri_readings(f"file://{tmp_path}/a/../../secret") == (
        f"file://{tmp_path.parent}/secret",
    )


def test_percent_encoded_dots_are_read_both_ways(tmp_path: Path) -> None:
    readings = uri_readings(f"file://{tmp_path}/store/%2e%2e/%2E%2E/secret")
    assert f"file://{tmp_path}/store/%2e%2e/%2E%2E/secret" in readings
    assert f"file://{tmp_path.parent}/secret" in readings


def test_double_encoding_is_decoded_too() -> None:
    assert "s3://lake/secret" in uri_readings("s3://lake/models/%252e%252e/secret")


def test_symbolic_links_are_resolved(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    os.symlink("/etc", tmp_path / "store" / "etc")
    assert uri_readings(f"file://{tmp_path}/store/etc/passwd") == ("file:///etc/passwd",)


def test_object_keys_keep_their_literal_reading() -> None:
    # S3 reads 'models/../x' as that key; a tool that normalises reads 'x'. Both count.
    assert set(uri_readings("S3://Lake/models/../x")) == {"s3://lake/models/../x", "s3://lake/x"}


def test_hive_host_port_and_case_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    assert uri_readings("hive://etl@Warehouse/ML_DB/Churn") == (
        "hive://warehouse:10000/ml_db/churn",
    )
    monkeypatch.setenv("MODELYARD_HIVE_HOST", "warehouse")
    assert uri_readings("hive:///ml_db/t") == ("hive://warehouse:10000/ml_db/t",)


@pytest.mark.parametrize("uri", ["file:///tmp/%00x", "s3://b/a%0Ab", "file://otherhost/etc"])
def test_unreadable_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidURI):
        uri_readings(uri)


def test_within_means_on_a_segment_boundary() -> None:
    assert is_within("s3://lake/models/x", "s3://lake/models/")
    assert is_within("s3://lake/models", "s3://lake/models/")
    assert not is_within("s3://lake/modelsx/y", "s3://lake/models")
    assert is_within("file:///etc", "file:///")


def test_normalise_keeps_links_and_lowercases_scheme_and_host() -> None:
    assert normalise_uri("S3://LAKE//models/./a/../b/") == "s3://lake/models/b"


def test_resolved_files_follows_links_to_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "own").write_text("x")
    os.symlink("/etc/hostname", tmp_path / "d" / "leak")
    assert set(resolved_files((tmp_path / "d").as_uri())) == {
        f"file://{tmp_path}/d/own",
        "file:///etc/hostname",
    }
