"""The web catalog: sign-in, what each page shows, search and filters, 404s, query counts."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from modelyard.registry import services
from modelyard.registry.models import AssetVersion, Kind, LifecycleState
from modelyard.registry.templatetags.catalog import ago, bytesize, number

pytestmark = pytest.mark.django_db

CHURN = "/models/red/churn/"
CUSTOMERS = "/datasets/red/customers/"


@pytest.fixture
def catalog(alice, carol, artifact_root: Path) -> None:
    """red/customers:1 (data set) → red/churn:1, :2 (model, production → 2); blue/fraud."""
    twelve_days_ago = (timezone.now() - timedelta(days=12)).isoformat()
    alice.post("/datasets", {"team": "red", "name": "customers", "description": "CRM extract"})
    alice.upload(
        "/datasets/red/customers/versions/upload",
        {"data.csv": b"id,age\n1,40\n"},
        {
            "flavor": "csv",
            "signature": {"columns": [{"name": "customer_id", "type": "long"}]},
        },
    )
    alice.post(
        "/models",
        {
            "team": "red",
            "name": "churn",
            "description": "Predicts who leaves",
            "tags": {"domain": "crm"},
        },
    )
    alice.upload(
        "/models/red/churn/versions/upload",
        {"model.joblib": b"v1"},
        {
            "created_at": twelve_days_ago,
            "last_accessed_at": twelve_days_ago,
        },
    )
    alice.upload(
        "/models/red/churn/versions/upload",
        {"model.joblib": b"v2" * 1024},
        {
            "flavor": "sklearn",
            "metrics": {"roc_auc": 0.9134},
            "params": {"C": 0.5},
            "lineage": [{"kind": "dataset", "ref": "red/customers:1"}],
        },
    )
    promoted = {"version": 2, "to": "production", "force": True, "reason": "beats v1 on holdout"}
    response = alice.post("/models/red/churn/promote", promoted)
    assert response.status_code == 200, response.content
    carol.post("/models", {"team": "blue", "name": "fraud", "description": "Card fraud"})


@pytest.fixture
def outsider(teams) -> Client:
    """mallory is on no team; reading the catalog needs no membership."""
    client = Client()
    client.force_login(teams["mallory"])
    return client


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.mark.parametrize("path", ["/", "/teams/red/", CHURN, f"{CHURN}2/", f"{CUSTOMERS}1/"])
def test_anonymous_is_sent_to_sign_in(catalog, client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.url == f"/login/?next={path}"


def test_catalog_lists_every_team_with_versions_aliases_use_and_size(catalog, outsider) -> None:
    page = text(outsider.get("/"))
    assert 'href="/models/red/churn/"' in page
    assert 'href="/datasets/red/customers/"' in page
    assert 'href="/models/blue/fraud/"' in page
    assert 'href="/teams/red/"' in page
    assert "production → 2" in page
    assert "v2" in page
    assert "2.0 KiB" in page  # both churn versions: 2 + 2048 bytes
    assert "just now" in page  # churn:2 was registered now; :1 is 12 days old


def test_last_used_is_the_newest_use_of_any_version(catalog, outsider) -> None:
    AssetVersion.objects.filter(asset__name="churn", version=2).update(
        last_accessed_at=timezone.now() - timedelta(days=3)
    )
    assert "3\xa0days ago" in text(outsider.get("/", {"q": "churn"}))


def test_search_matches_name_and_description(catalog, outsider) -> None:
    by_name = text(outsider.get("/", {"q": "CHUR"}))
    assert "/models/red/churn/" in by_name
    assert "/datasets/red/customers/" not in by_name
    by_description = text(outsider.get("/", {"q": "crm extract"}))
    assert "/datasets/red/customers/" in by_description
    assert "/models/red/churn/" not in by_description
    assert "Nothing matches" in text(outsider.get("/", {"q": "no-such-thing"}))


def test_kind_and_team_filters(catalog, outsider) -> None:
    datasets = text(outsider.get("/", {"kind": "dataset"}))
    assert "/datasets/red/customers/" in datasets
    assert "/models/" not in datasets
    blue = text(outsider.get("/", {"team": "blue"}))
    assert "/models/blue/fraud/" in blue
    assert "/models/red/churn/" not in blue


def test_unknown_filter_value_is_reported_not_applied(catalog, outsider) -> None:
    page = text(outsider.get("/", {"kind": "spreadsheet"}))
    assert "Select a valid choice" in page
    assert "/models/red/churn/" in page


def test_team_page_shows_members_roles_assets_and_totals(catalog, outsider) -> None:
    page = text(outsider.get("/teams/red/"))
    assert "alice" in page
    assert "bob" in page
    assert "carol" not in page
    assert "Owner" in page
    assert "Member" in page
    assert "/models/red/churn/" in page
    assert "/models/blue/fraud/" not in page
    assert "<dt>Versions</dt><dd>3</dd>" in page


def test_asset_page_lists_versions_with_metrics_state_and_aliases(catalog, outsider) -> None:
    AssetVersion.objects.filter(asset__name="churn", version=1).update(
        lifecycle_state=LifecycleState.NOTICED
    )
    page = text(outsider.get(CHURN))
    assert "Predicts who leaves" in page
    assert "domain=crm" in page
    assert f'href="{CHURN}2/"' in page
    assert f'href="{CHURN}1/"' in page
    assert "roc_auc" in page
    assert "0.9134" in page
    assert "sklearn" in page
    assert 'class="badge state-noticed">Noticed' in page
    assert 'class="badge state-active">Active' in page
    assert "12\xa0days ago" in page


def test_version_page_shows_metadata_artifacts_lineage_and_history(catalog, outsider) -> None:
    page = text(outsider.get(f"{CHURN}2/"))
    assert "0.9134" in page
    assert "C</th>" in page
    assert "model.joblib" in page
    assert "sha256:" in page
    assert f'href="{CUSTOMERS}1/"' in page  # upstream
    assert "trained on" in page
    assert "model.version_registered" in page
    assert "model.alias_moved" in page
    assert "beats v1 on holdout" in page
    assert "alice" in page


def test_version_page_shows_its_lifecycle_and_the_buttons_members_may_use(
    catalog, outsider, teams
) -> None:
    now = timezone.now()
    AssetVersion.objects.filter(asset__name="churn", version=1).update(
        lifecycle_state=LifecycleState.NOTICED,
        last_accessed_at=now - timedelta(days=40),
        notice_sent_at=now - timedelta(days=10),
    )
    page = text(outsider.get(f"{CHURN}1/"))
    assert "<h2>Lifecycle</h2>" in page
    assert "unused 40 days" in page
    # First notice 10 days ago: final notice in 10 days, deletion 10 days (grace) after.
    assert f"<dt>Deletes on</dt><dd><strong>{now + timedelta(days=20):%Y-%m-%d}" in page
    assert 'href="/teams/red/lifecycle/"' in page
    assert "/lifecycle/keep/" not in page  # mallory is on no team
    member = Client()
    member.force_login(teams["bob"])
    page = text(member.get(f"{CHURN}1/"))
    assert 'action="/models/red/churn/1/lifecycle/keep/"' in page
    assert 'action="/models/red/churn/1/lifecycle/pin/"' in page
    assert "/lifecycle/hold/" not in page


def test_history_details_read_in_full(catalog, outsider) -> None:
    version = AssetVersion.objects.get(asset__name="churn", version=1)
    reason = "moved to the new feature pipeline; see ticket ML-4711 for the migration plan"
    services.update_version(
        "alice", version, description="x" * 10, tags={"owner": "ml-platform"}, reason=reason
    )
    from modelyard.audit.services import record

    record(
        "system:deletion",
        "model.deletion_failed",
        version=version,
        details={
            "error": "Access denied by http://s3.test for bucket 'models': AccessDenied. "
            "Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the policy.",
            "next_attempt_at": "2026-12-01T10:20:00+00:00",
            "bytes_reclaimed": 2048,
            "permanent": True,
        },
    )
    page = text(outsider.get(f"{CHURN}1/"))
    assert "<dt>error</dt><dd>Access denied by http://s3.test for bucket &#x27;models&#x27;" in page
    assert "(or AWS_PROFILE) and the policy.</dd>" in page  # not cut off
    assert "<dt>next attempt at</dt><dd>2026-12-01 10:20 UTC</dd>" in page
    assert "<dt>bytes reclaimed</dt><dd>2.0 KiB</dd>" in page
    assert "<dt>permanent</dt><dd>yes</dd>" in page
    assert "{&quot;" not in page  # no JSON


def test_dataset_version_page_links_downstream_and_renders_columns(catalog, outsider) -> None:
    page = text(outsider.get(f"{CUSTOMERS}1/"))
    assert f'href="{CHURN}2/"' in page  # downstream
    assert "<summary>Columns" in page
    assert "customer_id" in page


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/models/red/nope/", "No model named"),
        ("/datasets/red/churn/", "No data set named"),
        (f"{CHURN}9/", "has no version 9"),
        ("/teams/nope/", "No team named"),
        ("/spreadsheets/red/churn/", "There is nothing at"),
    ],
)
def test_unknown_things_are_404(catalog, outsider, path: str, message: str) -> None:
    response = outsider.get(path)
    assert response.status_code == 404
    assert message in response.content.decode()


def test_non_staff_user_signs_in_and_out_on_the_catalog_pages(teams, client: Client) -> None:
    response = client.post("/login/", {"username": "mallory", "password": "pw", "next": "/"})
    assert response.status_code == 302
    assert response.url == "/"
    assert "mallory" in text(client.get("/"))
    client.post("/logout/")
    assert client.get("/").status_code == 302


@pytest.fixture
def many_assets(teams, artifact_root: Path) -> None:
    alice = teams["alice"]
    for index in range(50):
        asset = services.create_asset(alice, Kind.MODEL, teams["red"], f"model-{index:02}")
        for _ in range(2):
            source = services.ArtifactSource("m.bin", stream=io.BytesIO(b"x"), size=1)
            version = services.register_version(alice, asset, services.VersionSpec(), [source])
        services.set_alias(alice, asset, "production", version)


def test_catalog_queries_do_not_grow_with_assets(
    many_assets, outsider, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(8):
        page = text(outsider.get("/", {"team": "red", "kind": "model", "q": "model"}))
    assert page.count("production → 2") == 50


@pytest.fixture
def long_history(teams, artifact_root: Path) -> None:
    alice = teams["alice"]
    asset = services.create_asset(alice, Kind.MODEL, teams["red"], "churn")
    versions = [
        services.register_version(
            alice,
            asset,
            services.VersionSpec(metrics={"auc": 0.5}),
            [services.ArtifactSource("m.bin", stream=io.BytesIO(b"x"), size=1)],
        )
        for _ in range(30)
    ]
    for alias, version in zip(("canary", "production", "staging"), versions, strict=False):
        services.set_alias(alice, asset, alias, version)


def test_asset_page_queries_do_not_grow_with_versions_or_aliases(
    long_history, outsider, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(9):
        page = text(outsider.get(CHURN))
    assert page.count('class="badge state-active"') == 30
    assert 'href="/models/red/churn/1/">canary → 1' in page


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (None, "—"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (150 * 1024**2, "150.0 MiB"),
        (196_608, "192.0 KiB"),
        (5 * 1024**3, "5.0 GiB"),
    ],
)
def test_sizes_read_in_binary_units(size, shown: str) -> None:
    assert bytesize(size) == shown


@pytest.mark.parametrize(
    ("age", "shown"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(hours=3), "3\xa0hours ago"),
        (timedelta(days=1, hours=2), "1\xa0day ago"),
        (timedelta(days=45), "45\xa0days ago"),
        (timedelta(days=400), "1\xa0year ago"),
    ],
)
def test_last_use_reads_in_days_up_to_a_year(age: timedelta, shown: str) -> None:
    assert ago(timezone.now() - age) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (569.0, "569"),
        (0.973412, "0.9734"),
        (12345.5, "12,345.5"),
        (0.00001234, "1.234e-05"),
        ("n/a", "n/a"),
        (True, "true"),
    ],
)
def test_metrics_read_as_numbers(value, shown: str) -> None:
    assert number(value) == shown
