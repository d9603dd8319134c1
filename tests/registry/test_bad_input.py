"""Bad input gets a clear 4xx naming what was wrong, and leaves nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.registry.models import Artifact, AssetVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def churn(alice, artifact_root: Path) -> None:
    assert alice.post("/models", {"team": "red", "name": "churn"}).status_code == 201


def test_duplicate_model_name_is_409_naming_the_existing_model(alice, churn) -> None:
    response = alice.post("/models", {"team": "red", "name": "churn"})
    assert response.status_code == 409
    assert "already has a model named 'churn'" in response.json()["message"]
    assert response.json()["existing_id"] > 0


def test_same_name_in_another_team_is_fine(carol, churn) -> None:
    assert carol.post("/models", {"team": "blue", "name": "churn"}).status_code == 201


def test_unknown_uri_scheme_is_400_listing_supported(alice, churn) -> None:
    response = alice.post(
        "/models/red/churn/versions", {"artifacts": [{"name": "m", "uri": "ftp://host/m"}]}
    )
    assert response.status_code == 400
    message = response.json()["message"]
    assert "ftp" in message
    assert "file" in message
    assert "s3" in message
    assert AssetVersion.objects.count() == 0


def test_missing_object_is_400_and_no_version(alice, churn, lake: Path) -> None:
    missing = (lake / "nope.bin").as_uri()
    response = alice.post(
        "/models/red/churn/versions", {"artifacts": [{"name": "m", "uri": missing}]}
    )
    assert response.status_code == 400
    assert "nope.bin" in response.json()["message"]
    assert AssetVersion.objects.count() == 0


def test_wrong_types_are_422_naming_the_field(alice, churn) -> None:
    response = alice.post(
        "/models/red/churn/versions",
        {"artifacts": [{"name": "m", "uri": "file:///x"}], "metrics": {"auc": "high"}},
    )
    assert response.status_code == 422
    assert "metrics" in response.json()["message"]


def test_malformed_json_is_400_saying_where(alice, churn) -> None:
    response = alice.client.post(
        "/api/v1/models/red/churn/versions", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert "line 1, column 2" in response.json()["message"]


def test_malformed_upload_metadata_is_422(alice, churn) -> None:
    response = alice.client.post(
        "/api/v1/models/red/churn/versions/upload",
        {"metadata": "{oops", "files": []},
    )
    assert response.status_code == 422


def test_bad_asset_name_is_400(alice) -> None:
    response = alice.post("/models", {"team": "red", "name": "no spaces/or slashes"})
    assert response.status_code == 400
    assert "name" in response.json()["message"]


def test_lineage_to_missing_version_is_400(alice, churn) -> None:
    response = alice.upload(
        "/models/red/churn/versions/upload",
        {"m.bin": b"x"},
        {"lineage": [{"kind": "dataset", "ref": "red/ghost:1"}]},
    )
    assert response.status_code == 400
    assert "red/ghost" in response.json()["message"]
    assert AssetVersion.objects.count() == 0


def test_failed_registration_removes_uploaded_bytes(
    alice, churn, artifact_root: Path, lake: Path
) -> None:
    # The second artifact references a missing object, so the first upload must be undone.
    response = alice.upload(
        "/models/red/churn/versions/upload",
        {"m.bin": b"x" * 100},
        {"artifacts": [{"name": "ref", "uri": (lake / "definitely-missing").as_uri()}]},
    )
    assert response.status_code == 400
    assert AssetVersion.objects.count() == 0
    assert Artifact.objects.count() == 0
    assert [p for p in artifact_root.rglob("*") if p.is_file()] == []


def test_interrupted_upload_leaves_no_version_and_no_partial_file(
    alice, churn, artifact_root: Path, red
) -> None:
    from modelyard.registry import services

    class Broken:
        def __init__(self) -> None:
            self.sent = 0

        def read(self, size: int = -1) -> bytes:
            self.sent += 1
            if self.sent > 2:
                raise ConnectionResetError("client went away")
            return b"x" * 1024

    asset = services.get_asset("model", "red", "churn")
    with pytest.raises(ConnectionResetError):
        services.register_version(
            None, asset, services.VersionSpec(), [services.ArtifactSource("m", stream=Broken())]
        )
    assert AssetVersion.objects.count() == 0
    assert [p for p in artifact_root.rglob("*") if p.is_file()] == []


def test_unknown_model_is_404(alice) -> None:
    response = alice.get("/models/red/ghost")
    assert response.status_code == 404
    assert "red/ghost" in response.json()["message"]


def test_unauthenticated_is_401_with_instructions(anonymous) -> None:
    response = anonymous.get("/models")
    assert response.status_code == 401
    assert "token" in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"team": "red", "name": "x", "tags": {"a": "b\u0000"}},
        {"team": "red", "name": "x", "description": "\u0000"},
        {"team": "red", "name": "x", "tags": {"k\u0000": "v"}},
    ],
)
def test_nul_characters_are_422_not_a_database_error(alice, body) -> None:
    response = alice.post("/models", body)
    assert response.status_code == 422
    assert "NUL" in response.json()["message"]


def test_nul_in_query_is_422(alice) -> None:
    response = alice.get("/models", name="a\u0000b")
    assert response.status_code == 422


def test_too_many_files_is_a_json_400(alice, churn, settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    response = alice.upload(
        "/models/red/churn/versions/upload", {"a": b"1", "b": b"2", "c": b"3"}, {}
    )
    assert response.status_code == 400
    assert "More than 2 files" in response.json()["message"]
    assert AssetVersion.objects.count() == 0
