"""`modelyard apply` with a `features:` section: diff, dry run, feature set versions."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.features.models import Source, View
from modelyard.registry.models import Asset, Kind
from tests.features.conftest import FEATURES, project

pytestmark = pytest.mark.django_db


def apply(api: Any, text: str, dry_run: bool = False) -> Any:
    return api.post("/projects/apply", {"source": text, "dry_run": dry_run})


def versions(name: str) -> list[int]:
    asset = Asset.objects.get(kind=Kind.FEATURE_SET, team__name="red", name=name)
    return sorted(asset.versions.values_list("version", flat=True))


def test_applying_lists_the_changes_and_registers_a_version_per_view(alice, artifact_root) -> None:
    response = apply(alice, project())

    assert response.status_code == 200, response.json()
    assert response.json()["changes"][-3:] == [
        "+ feature source clicks",
        "+ feature view user_activity",
        "+ feature view purchases",
    ]
    view = View.objects.get(name="user_activity")
    assert view.version is not None
    assert view.version.version == 1
    assert view.version.signature["view"]["name"] == "user_activity"
    assert view.version.asset.team.name == "red"
    assert versions("purchases") == [1]


def test_a_dry_run_writes_nothing(alice, artifact_root) -> None:
    response = apply(alice, project(), dry_run=True)

    assert "+ feature view purchases" in response.json()["changes"]
    assert not Source.objects.exists()
    assert not View.objects.exists()
    assert not Asset.objects.filter(kind=Kind.FEATURE_SET).exists()


def test_unchanged_is_no_new_version_and_changed_is(alice, artifact_root) -> None:
    apply(alice, project())

    assert apply(alice, project()).json()["changes"] == []
    changed = FEATURES.replace(
        "purchases_90m: {agg: count, window: 90m}", "purchases_2h: {agg: count, window: 2h}"
    )
    response = apply(alice, project(changed))

    assert response.json()["changes"] == ["~ feature view purchases (new feature set version)"]
    assert versions("purchases") == [1, 2]
    assert versions("user_activity") == [1]


def test_a_removed_view_is_deactivated_and_reported(alice, artifact_root) -> None:
    apply(alice, project())
    without = FEATURES[: FEATURES.index("    purchases:")]

    response = apply(alice, project(without))

    assert response.json()["changes"] == ["- feature view purchases"]
    assert not View.objects.get(name="purchases").active


def test_problems_in_the_section_are_refused_with_their_lines(alice, artifact_root) -> None:
    text = project(FEATURES.replace("window: 1h}", "window: soon}"))

    response = apply(alice, text)

    assert response.status_code == 400
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "soon" in row)
    assert any(f"line {line}" in p and "soon" in p for p in response.json()["problems"])
    assert not View.objects.exists()


def test_another_team_member_cannot_apply(carol, artifact_root) -> None:
    response = apply(carol, project())

    assert response.status_code == 403
    assert not Source.objects.exists()


def test_a_project_may_declare_only_features(alice, artifact_root) -> None:
    text = "project: shop\nteam: red\n" + FEATURES

    response = apply(alice, text)

    assert response.status_code == 200, response.json()
    assert response.json()["changes"][0] == "+ project red/shop"
    assert View.objects.filter(active=True).count() == 2


def test_without_features_a_project_still_needs_a_program_and_commands(alice) -> None:
    response = apply(alice, "project: shop\nteam: red\n")

    assert response.status_code == 400
    problems = response.json()["problems"]
    assert any("`program:` is missing" in p for p in problems)
    assert any("`commands:` is missing" in p for p in problems)
