"""Registering models and versions: uploads, references, lineage, immutability."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelyard.audit.models import AuditEvent
from modelyard.registry.models import AssetVersion, LineageEdge

pytestmark = pytest.mark.django_db


def make_model(api, name: str = "churn", team: str = "red") -> dict:
    response = api.post("/models", {"team": team, "name": name, "tags": {"domain": "crm"}})
    assert response.status_code == 201, response.content
    return response.json()


def test_upload_creates_version_with_checksum_and_audit(alice, artifact_root: Path) -> None:
    make_model(alice)
    payload = b"model-bytes" * 1000
    response = alice.upload(
        "/models/red/churn/versions/upload",
        {"model.joblib": payload, "meta/info.txt": b"hello"},
        {"flavor": "sklearn", "metrics": {"roc_auc": 0.91}, "params": {"C": 1.0}},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1
    assert body["size_bytes"] == len(payload) + 5
    artifacts = {a["name"]: a for a in body["artifacts"]}
    assert artifacts["model.joblib"]["checksum"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    assert artifacts["model.joblib"]["uri"].startswith(artifact_root.as_uri())
    assert artifacts["meta/info.txt"]["uploaded"] is True
    assert AuditEvent.objects.filter(action="model.version_registered").count() == 1


def test_version_numbers_increase(alice, artifact_root: Path) -> None:
    make_model(alice)
    numbers = [
        alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x"}, {}).json()["version"]
        for _ in range(3)
    ]
    assert numbers == [1, 2, 3]


def test_register_existing_file_uri_records_size_without_copy(
    alice, artifact_root: Path, lake: Path
) -> None:
    make_model(alice)
    existing = lake / "elsewhere" / "model.onnx"
    existing.parent.mkdir()
    existing.write_bytes(b"onnx" * 10)
    response = alice.post(
        "/models/red/churn/versions",
        {"artifacts": [{"name": "model.onnx", "uri": existing.as_uri()}]},
    )
    assert response.status_code == 201, response.content
    artifact = response.json()["artifacts"][0]
    assert artifact["uri"] == existing.as_uri()
    assert artifact["size_bytes"] == 40
    assert artifact["uploaded"] is False
    assert list(artifact_root.rglob("*.onnx")) == []


def test_lineage_links_model_version_to_dataset_version(alice, artifact_root: Path) -> None:
    alice.post("/datasets", {"team": "red", "name": "customers"})
    dataset = alice.upload(
        "/datasets/red/customers/versions/upload", {"data.csv": b"a,b\n1,2\n"}, {"flavor": "csv"}
    ).json()
    make_model(alice)
    model = alice.upload(
        "/models/red/churn/versions/upload",
        {"m.bin": b"x"},
        {"lineage": [{"kind": "dataset", "ref": "red/customers:1"}]},
    ).json()
    assert model["upstream"] == [
        {"kind": "dataset", "ref": "red/customers:1", "relation": "trained_on"}
    ]
    downstream = alice.get("/datasets/red/customers/versions/1").json()["downstream"]
    assert downstream == [{"kind": "model", "ref": "red/churn:1", "relation": "trained_on"}]
    assert LineageEdge.objects.get().upstream_id == dataset["id"]


def test_onboarding_keeps_historic_dates(alice, artifact_root: Path) -> None:
    make_model(alice)
    response = alice.upload(
        "/models/red/churn/versions/upload",
        {"m.bin": b"x"},
        {"created_at": "2025-01-01T00:00:00Z", "last_accessed_at": "2025-03-01T00:00:00Z"},
    )
    assert response.status_code == 201, response.content
    version = AssetVersion.objects.get()
    assert version.created_at.isoformat().startswith("2025-01-01")
    assert version.last_accessed_at.isoformat().startswith("2025-03-01")


def test_metadata_edit_is_audited_but_bytes_stay(alice, artifact_root: Path) -> None:
    make_model(alice)
    before = alice.upload("/models/red/churn/versions/upload", {"m.bin": b"x"}, {}).json()
    response = alice.patch(
        "/models/red/churn/versions/1",
        {"description": "better docs", "tags": {"stage": "candidate"}, "reason": "typo"},
    )
    assert response.status_code == 200
    after = response.json()
    assert after["description"] == "better docs"
    assert after["artifacts"] == before["artifacts"]
    event = AuditEvent.objects.get(action="model.version_updated")
    assert event.reason == "typo"
    assert event.details["description"] == {"from": "", "to": "better docs"}


def test_download_streams_bytes_and_records_access(alice, artifact_root: Path) -> None:
    from modelyard.registry.access import tracker

    make_model(alice)
    alice.upload("/models/red/churn/versions/upload", {"model/weights.bin": b"w" * 3000}, {})
    files = alice.get("/models/red/churn/versions/1/files").json()
    assert [f["path"] for f in files] == ["model/weights.bin"]
    before = AssetVersion.objects.get().last_accessed_at
    tracker().flush()  # what earlier tests left buffered
    response = alice.get("/models/red/churn/versions/1/files/model/weights.bin")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"w" * 3000
    # Acknowledged to the client, so written through before the answer: nothing buffered.
    assert AssetVersion.objects.get().last_accessed_at > before
    assert tracker().pending() == 0
