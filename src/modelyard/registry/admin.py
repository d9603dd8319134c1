"""Browsing the catalog in the admin. Versions are read-only here: their bytes never change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from modelyard.audit.services import record
from modelyard.lib.errors import InvalidInput
from modelyard.registry import stores
from modelyard.registry.models import (
    Alias,
    Artifact,
    Asset,
    AssetVersion,
    Dataset,
    DeclaredStore,
    FeatureSet,
    LineageEdge,
    Model,
)


class ArtifactInline(admin.TabularInline[Artifact, AssetVersion]):
    model = Artifact
    extra = 0
    can_delete = False
    readonly_fields = ["name", "uri", "size_bytes", "checksum", "is_prefix", "uploaded"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class UpstreamInline(admin.TabularInline[LineageEdge, AssetVersion]):
    model = LineageEdge
    fk_name = "downstream"
    extra = 0
    can_delete = False
    readonly_fields = ["upstream", "relation"]
    verbose_name_plural = "made from (lineage)"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AliasInline(admin.TabularInline[Alias, Asset]):
    model = Alias
    extra = 0
    readonly_fields = ["name", "version", "updated_at", "updated_by"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AssetAdmin(admin.ModelAdmin[Asset]):
    list_display = ["name", "team", "latest_version", "created_at", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name", "description", "team__name"]
    readonly_fields = ["kind", "team", "name", "created_at", "created_by", "latest_version"]
    inlines = [AliasInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # registration goes through the API/CLI so it is validated and audited

    def get_queryset(self, request: HttpRequest) -> QuerySet[Asset]:
        return super().get_queryset(request).select_related("team")


for _proxy in (Model, Dataset, FeatureSet):
    admin.site.register(_proxy, AssetAdmin)


@admin.register(AssetVersion)
class AssetVersionAdmin(admin.ModelAdmin[AssetVersion]):
    list_display = [
        "__str__",
        "kind",
        "flavor",
        "created_at",
        "last_accessed_at",
        "lifecycle_state",
    ]
    list_filter = ["kind", "lifecycle_state", "asset__team"]
    search_fields = ["asset__name", "asset__team__name", "description"]
    date_hierarchy = "last_accessed_at"
    list_select_related = ["asset__team"]
    inlines = [ArtifactInline, UpstreamInline]
    readonly_fields = [f.name for f in AssetVersion._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DeclaredStoreForm(forms.ModelForm[DeclaredStore]):
    class Meta:
        model = DeclaredStore
        fields = ["uri", "all_teams", "teams", "allow_delete", "description"]

    def clean_uri(self) -> str:
        try:
            return stores.checked_store_uri(self.cleaned_data["uri"])
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("all_teams") and cleaned.get("teams"):
            raise forms.ValidationError("Choose 'all teams' or a list of teams, not both.")
        return cleaned


@admin.register(DeclaredStore)
class DeclaredStoreAdmin(admin.ModelAdmin[DeclaredStore]):
    """Staff declare where modelyard may read and delete (registry/stores.py)."""

    form = DeclaredStoreForm
    list_display = ["uri", "all_teams", "allow_delete", "description", "created_at"]
    list_filter = ["all_teams", "allow_delete"]
    search_fields = ["uri", "description"]
    filter_horizontal = ["teams"]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        store = form.instance
        action = "store.changed" if change else "store.declared"
        teams = "all" if store.all_teams else sorted(t.name for t in store.teams.all())
        details = {"uri": store.uri, "teams": teams, "allow_delete": store.allow_delete}
        record(request.user, action, details=details)

    def delete_model(self, request: HttpRequest, obj: DeclaredStore) -> None:
        record(request.user, "store.removed", details={"uri": obj.uri})
        super().delete_model(request, obj)
