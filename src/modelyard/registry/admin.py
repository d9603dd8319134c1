"""Browsing the catalog in the admin. Versions are read-only here: their bytes never change."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from modelyard.registry.models import (
    Alias,
    Artifact,
    Asset,
    AssetVersion,
    Dataset,
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
