"""Downloading a version's files: byte-identical, paths kept, nothing half-written left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.client import ClientError
from tests.fixtures.cli import Cli, write


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_download_round_trip_is_byte_identical(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "model"
    write(source / "model.bin", os.urandom(300_000))
    write(source / "conf" / "nested" / "params.yaml", b"C: 1.0\n")
    write(source / "empty.txt", b"")
    cli("models", "register", "red/churn", str(source))
    cli("models", "alias", "red/churn", "champion", "1")

    said = cli("artifacts", "download", "red/churn@champion", str(tmp_path / "out")).stdout

    assert tree(tmp_path / "out") == tree(source)
    assert "3 file(s)" in said


def test_download_latest_dataset(cli: Cli, tmp_path: Path) -> None:
    cli("datasets", "register", "red/customers", str(write(tmp_path / "v1.csv", b"old")))
    cli("datasets", "register", "red/customers", str(write(tmp_path / "v2.csv", b"new")))

    cli("artifacts", "download", "red/customers", str(tmp_path / "out"), "--kind", "dataset")

    assert tree(tmp_path / "out") == {"v2.csv": b"new"}


def test_download_referenced_uri_prefix(cli: Cli, tmp_path: Path, lake: Path) -> None:
    elsewhere = lake / "elsewhere" / "shards"
    write(elsewhere / "part-0", b"zero")
    write(elsewhere / "part-1", b"one")
    cli("datasets", "register", "red/events", elsewhere.as_uri())

    cli("artifacts", "download", "red/events:1", str(tmp_path / "out"), "--kind", "dataset")

    assert tree(tmp_path / "out") == {"shards/part-0": b"zero", "shards/part-1": b"one"}


def test_download_reports_progress_and_returns_paths(cli: Cli, tmp_path: Path) -> None:
    cli("models", "register", "red/churn", str(write(tmp_path / "m.bin", b"m" * 70_000)))
    seen: list[tuple[int, int]] = []

    with cli.client() as client:
        paths = client.download(
            "model",
            "red/churn:1",
            tmp_path / "out",
            progress=lambda done, total: seen.append((done, total)),
        )

    assert paths == [tmp_path / "out" / "m.bin"]
    assert seen[-1] == (70_000, 70_000)


def test_unknown_file_kind_mismatch_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    cli("datasets", "register", "red/customers", str(write(tmp_path / "d.csv", b"x")))

    output = cli.fails("artifacts", "download", "red/customers:1", str(tmp_path / "out"))

    assert "No model named 'red/customers'" in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("field", "wrong", "problem"),
    [("size_bytes", 4, "incomplete: got 3 of 4 bytes"), ("checksum", "sha256:00", "corrupt")],
)
def test_bytes_that_do_not_match_the_listing_leave_no_file(
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    wrong: object,
    problem: str,
) -> None:
    cli("models", "register", "red/churn", str(write(tmp_path / "m.bin", b"abc")))

    with cli.client() as client:
        listed = client.files("model", "red/churn:1")
        monkeypatch.setattr(client, "_array", lambda *args, **kwargs: [{**listed[0], field: wrong}])
        with pytest.raises(ClientError, match=problem):
            client.download("model", "red/churn:1", tmp_path / "out")

    assert list((tmp_path / "out").iterdir()) == []
