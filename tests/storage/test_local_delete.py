"""LocalStore.delete counts the files it really removed and names the ones it could not."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.storage import DeletionRefused, path_to_uri
from modelyard.storage.local import LocalStore


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[list[Path]]:
    """Files made immutable with chattr +i: even root cannot remove them.

    The tests run as root on CI, where file permissions would not stop anything, so
    immutability is the refusal the kernel still makes. Skipped only where the
    filesystem has no such flag (tmpfs, overlay without it).
    """
    marked: list[Path] = []
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported on this filesystem")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    yield marked
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def make_immutable(marked: list[Path], path: Path) -> None:
    subprocess.run(["chattr", "+i", str(path)], check=True)
    marked.append(path)


def test_undeletable_file_is_named_and_not_counted(tmp_path: Path, immutable: list[Path]) -> None:
    run = tmp_path / "run"
    (run / "deep").mkdir(parents=True)
    (run / "free.bin").write_bytes(b"f" * 30)
    (run / "deep" / "stuck.bin").write_bytes(b"s" * 500)
    make_immutable(immutable, run / "deep" / "stuck.bin")

    with pytest.raises(DeletionRefused) as raised:
        LocalStore().delete(path_to_uri(run))
    error = raised.value
    assert (error.permanent, error.bytes_freed, error.bytes_kept) == (True, 30, 500)
    assert error.kept == [str(run / "deep" / "stuck.bin")]
    assert "stuck.bin: Operation not permitted" in str(error)
    assert "500 bytes are not reclaimed (30 bytes were)" in str(error)
    assert sorted(p.name for p in run.rglob("*")) == ["deep", "stuck.bin"]

    subprocess.run(["chattr", "-i", str(run / "deep" / "stuck.bin")], check=True)
    assert LocalStore().delete(path_to_uri(run)) == 500
    assert not run.exists()


def test_symbolic_links_are_removed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kept.bin").write_bytes(b"k" * 100)
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.bin").write_bytes(b"m" * 8)
    (run / "linked").symlink_to(outside, target_is_directory=True)
    link_size = (run / "linked").lstat().st_size  # the link itself, not what it names

    assert LocalStore().delete(path_to_uri(run)) == 8 + link_size
    assert not run.exists()
    assert (outside / "kept.bin").read_bytes() == b"k" * 100
