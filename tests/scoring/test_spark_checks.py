"""What `--engine spark` checks before it starts a JVM, each failure one line saying what
to do; and the model folder shipped to executors as a zip named by its contents."""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path

import pytest

from modelyard.lib import spark_session
from modelyard.lib.spark_session import SparkError
from tests.fixtures.cli import Cli


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def test_an_unreachable_master_is_one_line(
    cli: Cli, served_model, parquet_dir: Path, tmp_path: Path
) -> None:
    master = f"spark://127.0.0.1:{closed_port()}"

    said = cli.fails(
        "score",
        "red/churn@production",
        *("--input", parquet_dir.as_uri(), "--output", (tmp_path / "o").as_uri()),
        *("--engine", "spark", "--spark-master", master),
    )

    assert f"Cannot reach the Spark master {master}" in said
    assert "start it, or fix --spark-master" in said
    assert len(said.strip().splitlines()) == 1


def test_missing_java_is_named_with_how_to_install_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java here
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(SparkError, match=r"needs Java 17 .* apt-get install openjdk-17"):
        spark_session.require_java()


def test_java_home_is_enough(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").touch()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))

    spark_session.require_java()


def test_the_folder_digest_follows_contents_not_times(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "inner").mkdir(parents=True)
    (folder / "model.joblib").write_bytes(b"weights")
    (folder / "inner" / "conda.yaml").write_text("name: x")
    first = spark_session.folder_digest(folder)
    (folder / "model.joblib").touch()
    assert spark_session.folder_digest(folder) == first
    (folder / "model.joblib").write_bytes(b"other weights")
    assert spark_session.folder_digest(folder) != first


def test_the_shipped_zip_holds_the_folder(tmp_path: Path) -> None:
    class Context:
        added: list[str] = []

        def addFile(self, path: str) -> None:
            self.added.append(path)

    class Spark:
        sparkContext = Context()

    folder = tmp_path / "model"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "weights.bin").write_bytes(b"123")
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    shipped = spark_session.ship_folder(Spark(), folder, scratch)

    assert shipped.name == f"modelyard-{shipped.digest[:24]}.zip"
    assert Spark.sparkContext.added == [str(scratch / shipped.name)]
    with zipfile.ZipFile(scratch / shipped.name) as bundle:
        assert bundle.namelist() == ["inner/weights.bin"]
