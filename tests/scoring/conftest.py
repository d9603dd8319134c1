"""Data to score: breast-cancer rows as Parquet and CSV files, with an id column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from modelyard.deployment.services import promote
from modelyard.registry.models import AssetVersion
from tests.fixtures.models import COLUMNS


def table(rows: np.ndarray) -> pa.Table:
    columns = {name: rows[:, i] for i, name in enumerate(COLUMNS)}
    return pa.table({**columns, "id": np.arange(len(rows))})


@pytest.fixture
def rows(cancer) -> np.ndarray:
    return np.tile(cancer[0], (10, 1))  # 5,690 rows


@pytest.fixture
def parquet_dir(tmp_path: Path, rows: np.ndarray) -> Path:
    folder = tmp_path / "input"
    folder.mkdir()
    half = len(rows) // 2
    pq.write_table(table(rows[:half]), folder / "a.parquet", row_group_size=500)
    pq.write_table(table(rows[half:]), folder / "b.parquet", row_group_size=500)
    (folder / "_SUCCESS").write_text("")
    return folder


@pytest.fixture
def csv_file(tmp_path: Path, rows: np.ndarray) -> Path:
    path = tmp_path / "rows.csv"
    pa_csv.write_csv(table(rows[:1000]), path)
    return path


@pytest.fixture
def served_model(teams, model, register_model, estimators) -> AssetVersion:
    version = register_model(estimators["good"])
    promote(teams["alice"], model, version, "production")
    return version


@pytest.fixture(autouse=True)
def declared_tmp_path(tmp_path: Path, declare_store: Any) -> None:
    """Inputs and outputs live under tmp_path: a store red may use (registry/stores.py)."""
    declare_store(tmp_path.as_uri(), delete=True)
