"""`modelyard up` keeps the terminal for what matters: processes log to files, and the ready
block (how to sign in, the first password and where it is kept) comes last."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelyard.cli.supervise import Access, _announce, run_together


def test_with_logs_each_process_writes_to_its_own_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs"
    (logs).mkdir()
    (logs / "beat.log").write_text("from the last start\n")

    code = run_together(
        {
            "web": [sys.executable, "-c", "print('web banner'); import sys; sys.exit(4)"],
            "beat": [sys.executable, "-c", "import sys; print('beat line', file=sys.stderr)"],
        },
        logs=logs,
    )

    assert code in (4, 1)  # whichever exited first stopped the other
    assert (logs / "web.log").read_text() == "web banner\n"
    assert (logs / "beat.log").read_text().startswith("from the last start\n")
    out, err = capfd.readouterr()
    assert "banner" not in out + err
    assert "beat line" not in out + err
    assert "(its log: " in out


def test_first_start_shows_the_password_and_where_it_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path))
    access = Access("admin", "s3cret-pass", "my_token", "http://127.0.0.1:8000")

    _announce("http://127.0.0.1:8000", access, ["  logs:      /x/logs/"])

    out = capsys.readouterr().out
    assert f"as admin, password s3cret-pass (saved to {tmp_path / 'admin_password'})" in out
    assert "API token: my_token" in out
    assert "the CLI is signed in from any folder" in out
    assert out.rstrip().endswith("Press Ctrl-C to stop.")


def test_a_restart_points_at_the_saved_password_or_how_to_reset_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path))
    access = Access("admin", None, "my_token", "http://127.0.0.1:8000")

    _announce("http://127.0.0.1:8000", access, [])
    (tmp_path / "admin_password").write_text("x\n")
    _announce("http://127.0.0.1:8000", access, [])

    first, second = capsys.readouterr().out.split("Press Ctrl-C to stop.")[:2]
    assert "reset: `modelyard users set-password admin`" in first
    assert f"password in {tmp_path / 'admin_password'}" in second
