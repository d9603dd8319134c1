"""Registering versions from local files, directories and existing URIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.cli import Cli, write


def test_file_and_directory_with_metadata_and_lineage_show_up(cli: Cli, tmp_path: Path) -> None:
    data = write(tmp_path / "customers.csv", b"id,churned\n1,0\n")
    cli("datasets", "register", "red/customers", str(data), "--flavor", "csv")
    model = write(tmp_path / "model.joblib", b"m" * 5000)
    extras = tmp_path / "extras"
    write(extras / "MLmodel", b"flavor: sklearn\n")
    write(extras / "weights" / "w.bin", b"\x00\x01" * 100)

    registered = cli.json(
        "models",
        "register",
        "red/churn",
        str(model),
        str(extras),
        "--flavor",
        "sklearn",
        "--metric",
        "auc=0.91",
        "--metric",
        "f1=0.5",
        "--param",
        "C=1.0",
        "--param",
        "solver=lbfgs",
        "--tag",
        "stage=dev",
        "--description",
        "first cut",
        "--trained-on",
        "dataset:red/customers:1",
        "--signature",
        '{"inputs": ["age"]}',
    )

    assert registered["ref"] == "red/churn:1"
    shown = cli.json("models", "show", "red/churn:1")
    assert shown["metrics"] == {"auc": 0.91, "f1": 0.5}
    assert shown["params"] == {"C": 1.0, "solver": "lbfgs"}
    assert shown["tags"] == {"stage": "dev"}
    assert shown["flavor"] == "sklearn"
    assert shown["signature"] == {"inputs": ["age"]}
    assert shown["upstream"] == [
        {"kind": "dataset", "ref": "red/customers:1", "relation": "trained_on"}
    ]
    sizes = {a["name"]: a["size_bytes"] for a in shown["artifacts"]}
    assert sizes == {"model.joblib": 5000, "MLmodel": 16, "weights/w.bin": 200}
    assert all(a["uploaded"] for a in shown["artifacts"])
    downstream = cli.json("datasets", "show", "red/customers:1")["downstream"]
    assert downstream == [{"kind": "model", "ref": "red/churn:1", "relation": "trained_on"}]


def test_show_for_people_lists_metrics_artifacts_and_lineage(cli: Cli, tmp_path: Path) -> None:
    cli("datasets", "register", "red/customers", str(write(tmp_path / "d.csv", b"x")))
    cli(
        "models",
        "register",
        "red/churn",
        str(write(tmp_path / "m.bin", b"x")),
        "--metric",
        "auc=0.91",
        "--trained-on",
        "dataset:red/customers:1",
    )

    output = cli("models", "show", "red/churn:1").stdout

    assert "auc" in output
    assert "0.91" in output
    assert "m.bin" in output
    assert "red/customers:1" in output


def test_signature_from_a_file(cli: Cli, tmp_path: Path) -> None:
    signature = write(tmp_path / "sig.json", json.dumps({"outputs": ["p"]}).encode())
    model = write(tmp_path / "m.bin", b"x")

    registered = cli.json(
        "models", "register", "red/churn", str(model), "--signature", f"@{signature}"
    )

    assert registered["signature"] == {"outputs": ["p"]}


def test_existing_uri_is_referenced_not_copied(cli: Cli, lake: Path, artifact_root: Path) -> None:
    existing = write(lake / "elsewhere" / "model.onnx", b"onnx" * 10)

    registered = cli.json("models", "register", "red/churn", existing.as_uri())

    (artifact,) = registered["artifacts"]
    assert artifact == {
        **artifact,
        "name": "model.onnx",
        "uri": existing.as_uri(),
        "size_bytes": 40,
        "uploaded": False,
    }
    assert [p for p in artifact_root.rglob("*") if p.is_file()] == []


def test_uri_and_local_file_in_one_version(
    cli: Cli, tmp_path: Path, lake: Path, artifact_root: Path
) -> None:
    existing = write(lake / "elsewhere" / "model.onnx", b"onnx")
    local = write(tmp_path / "card.md", b"# churn")

    registered = cli.json("models", "register", "red/churn", str(local), existing.as_uri())

    stored = {a["name"]: a["uploaded"] for a in registered["artifacts"]}
    assert stored == {"card.md": True, "model.onnx": False}
    assert [p.name for p in artifact_root.rglob("*") if p.is_file()] == ["card.md"]


def test_history_timestamps_are_kept(cli: Cli, tmp_path: Path) -> None:
    registered = cli.json(
        "models",
        "register",
        "red/churn",
        str(write(tmp_path / "m", b"x")),
        "--created-at",
        "2024-01-05",
        "--last-accessed-at",
        "2024-02-01T12:00Z",
    )

    assert registered["created_at"].startswith("2024-01-05T00:00:00")
    assert registered["last_accessed_at"].startswith("2024-02-01T12:00:00")


def test_upload_reports_progress_in_bytes(cli: Cli, tmp_path: Path) -> None:
    files = [write(tmp_path / "a.bin", b"a" * 200_000), write(tmp_path / "b.bin", b"b" * 1000)]
    seen: list[tuple[int, int]] = []

    with cli.client() as client:
        client.register_version(
            "model", "red/churn", files, progress=lambda done, total: seen.append((done, total))
        )

    assert seen[-1] == (201_000, 201_000)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_an_mlflow_model_brings_its_signature_and_example_and_passes_the_gate(
    cli: Cli, tmp_path: Path
) -> None:
    # Saved by MLflow itself, in its safe default format for scikit-learn (skops).
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    rows, labels = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=3000).fit(rows, labels)
    directory = tmp_path / "model"
    mlflow_sklearn.save_model(
        model,
        str(directory),
        serialization_format="skops",
        signature=infer_signature(rows, model.predict(rows)),
        input_example=rows.head(3),
        pip_requirements=["scikit-learn"],
    )

    cli("models", "register", "red/mlf", str(directory), "--flavor", "mlflow")

    shown = cli.json("models", "show", "red/mlf:1")
    assert [c["name"] for c in shown["signature"]["inputs"]] == list(rows.columns)
    assert shown["input_example"] == rows.head(3).to_numpy().tolist()
    promoted = cli("promote", "red/mlf", "1").stdout
    assert "red/mlf@production: - -> 1 (promoted)" in promoted or "(promoted)" in promoted
