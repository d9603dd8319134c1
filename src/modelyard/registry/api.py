"""REST endpoints for models, data sets and feature sets under /api/v1.

The three kinds share every endpoint, so one factory builds a router per kind; each
handler parses input, checks permission and calls a service, nothing more.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar, cast

from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import ValidationError

from modelyard.accounts.models import Team
from modelyard.accounts.permissions import require_member, require_owner
from modelyard.accounts.services import get_team
from modelyard.api.auth import authenticate
from modelyard.api.pagination import PageParams, page, page_of
from modelyard.api.parser import loads_strict
from modelyard.api.types import StoredDatetime
from modelyard.lib.errors import Conflict, Gone, InvalidInput, NotFound, Unprocessable
from modelyard.registry import services
from modelyard.registry.access import record_access
from modelyard.registry.files import list_files, open_file
from modelyard.registry.models import (
    ENVIRONMENT_ALIASES,
    PLURAL,
    Asset,
    AssetVersion,
    Kind,
    LifecycleState,
)
from modelyard.registry.refs import parse_ref
from modelyard.registry.schemas import (
    AliasIn,
    AliasOut,
    AssetIn,
    AssetOut,
    AssetPatch,
    DeletionOut,
    FileOut,
    UploadMetadata,
    VersionIn,
    VersionMetadata,
    VersionOut,
    VersionPatch,
    VersionSummary,
)
from modelyard.registry.serializers import (
    asset_body,
    assets_query,
    summary_columns,
    version_body,
    version_summaries,
)

T = TypeVar("T", bound=Model)


class AssetFilters(Schema):
    team: str | None = None
    name: str | None = None
    tag: str | None = None


class VersionFilters(Schema):
    team: str | None = None
    state: LifecycleState | None = None
    tag: str | None = None
    stale_since: StoredDatetime | None = None


class AssetPage(Schema):
    items: list[AssetOut]
    count: int
    limit: int
    offset: int


class VersionPage(Schema):
    items: list[VersionSummary]
    count: int
    limit: int
    offset: int


def filter_tag(queryset: QuerySet[T, T], tag: str) -> QuerySet[T, T]:
    """`key=value` matches that value, a bare `key` matches any value.

    A key transform rather than JSON containment, which SQLite lacks.
    """
    key, has_value, value = tag.partition("=")
    if not has_value:
        return queryset.filter(tags__has_key=key)
    # django-stubs types alias() as returning QuerySet[Model]; it keeps the row type.
    tagged = cast(QuerySet[T, T], queryset.alias(tag_value=KeyTransform(key, "tags")))
    return tagged.filter(tag_value=value)


def filter_versions(
    queryset: QuerySet[AssetVersion], filters: VersionFilters
) -> QuerySet[AssetVersion]:
    if filters.team:
        # By id, not by a join on the name: only a known team_id lets the planner use the
        # (team, registered_at) and (team, last_accessed_at) indexes.
        team_id = Team.objects.filter(name=filters.team).values_list("id", flat=True).first()
        queryset = queryset.filter(team_id=team_id) if team_id else queryset.none()
    if filters.state:
        queryset = queryset.filter(lifecycle_state=filters.state)
    if filters.tag:
        queryset = filter_tag(queryset, filters.tag)
    if filters.stale_since:
        queryset = queryset.filter(last_accessed_at__lt=filters.stale_since)
    return queryset


def build_kind_router(kind: Kind) -> Router:
    router = Router(tags=[PLURAL[kind]])
    plural = PLURAL[kind]

    def op(verb: str) -> str:
        return f"{verb}_{plural}"

    @router.get("", response=AssetPage, operation_id=op("list"))
    def list_assets(
        request: HttpRequest, filters: Query[AssetFilters], params: Query[PageParams]
    ) -> dict[str, Any]:
        queryset = assets_query().filter(kind=kind)
        if filters.team:
            queryset = queryset.filter(team__name=filters.team)
        if filters.name:
            queryset = queryset.filter(name__icontains=filters.name)
        if filters.tag:
            queryset = filter_tag(queryset, filters.tag)
        return page(queryset.order_by("team__name", "name"), params, asset_body)

    @router.post("", response={201: AssetOut}, operation_id=op("create"))
    def create_asset(request: HttpRequest, body: AssetIn) -> Status[dict[str, Any]]:
        team = get_team(body.team)
        require_member(request.user, team, f"create {plural} in it")
        asset = services.create_asset(
            request.user, kind, team, body.name, description=body.description, tags=body.tags
        )
        return Status(201, asset_body(asset))

    @router.get("/{team}/{name}", response=AssetOut, operation_id=op("get"))
    def get_asset(request: HttpRequest, team: str, name: str) -> dict[str, Any]:
        return asset_body(services.get_asset(kind, team, name))

    @router.patch("/{team}/{name}", response=AssetOut, operation_id=op("update"))
    def update_asset(
        request: HttpRequest, team: str, name: str, body: AssetPatch
    ) -> dict[str, Any]:
        asset = _writable_asset(request, kind, team, name)
        services.update_asset(
            request.user, asset, description=body.description, tags=body.tags, reason=body.reason
        )
        return asset_body(asset)

    @router.get("/{team}/{name}/versions", response=VersionPage, operation_id=op("versions"))
    def list_versions(
        request: HttpRequest,
        team: str,
        name: str,
        filters: Query[VersionFilters],
        params: Query[PageParams],
    ) -> dict[str, Any]:
        asset = services.get_asset(kind, team, name)
        queryset = filter_versions(AssetVersion.objects.filter(asset=asset), filters)
        ordered = queryset.order_by("-version")
        return page_of(ordered, params, version_summaries, summary_columns)

    @router.post("/{team}/{name}/versions", response={201: VersionOut}, operation_id=op("register"))
    def register_version(
        request: HttpRequest, team: str, name: str, body: VersionIn
    ) -> Status[dict[str, Any]]:
        asset = _writable_asset(request, kind, team, name)
        sources = [services.ArtifactSource(name=a.name, uri=a.uri) for a in body.artifacts]
        version = services.register_version(request.user, asset, _spec(body), sources)
        return Status(201, version_body(version))

    @router.post(
        "/{team}/{name}/versions/upload",
        response={201: VersionOut},
        operation_id=op("upload"),
        auth=MemberAuth(kind),
    )
    def upload_version(
        request: HttpRequest,
        team: str,
        name: str,
        files: File[list[UploadedFile]],
        metadata: Form[str] = "{}",
    ) -> Status[dict[str, Any]]:
        asset = _writable_asset(request, kind, team, name)
        meta = _parse_upload_metadata(metadata)
        sources = _upload_sources(meta, files)
        version = services.register_version(request.user, asset, _spec(meta), sources)
        return Status(201, version_body(version))

    @router.get("/{team}/{name}/versions/{number}", response=VersionOut, operation_id=op("version"))
    def get_version(request: HttpRequest, team: str, name: str, number: int) -> dict[str, Any]:
        asset = services.get_asset(kind, team, name)
        return version_body(services.get_version(asset, number))

    @router.patch(
        "/{team}/{name}/versions/{number}", response=VersionOut, operation_id=op("update_version")
    )
    def update_version(
        request: HttpRequest, team: str, name: str, number: int, body: VersionPatch
    ) -> dict[str, Any]:
        asset = _writable_asset(request, kind, team, name)
        version = services.get_version(asset, number)
        services.update_version(
            request.user,
            version,
            description=body.description,
            tags=body.tags,
            reason=body.reason,
        )
        return version_body(version)

    @router.delete(
        "/{team}/{name}/versions/{number}",
        response={202: DeletionOut},
        operation_id=op("delete_version"),
    )
    def delete_version(
        request: HttpRequest, team: str, name: str, number: int, reason: str
    ) -> Status[dict[str, Any]]:
        asset = services.get_asset(kind, team, name)
        require_owner(request.user, asset.team, f"delete versions of {asset.ref}")
        version = services.schedule_deletion(
            request.user, services.get_version(asset, number), reason
        )
        return Status(202, {"ref": version.ref, "lifecycle_state": version.lifecycle_state})

    @router.get(
        "/{team}/{name}/versions/{number}/files",
        response=list[FileOut],
        operation_id=op("files"),
    )
    def version_files(
        request: HttpRequest, team: str, name: str, number: int
    ) -> list[dict[str, Any]]:
        version = _readable_version(kind, team, name, number)
        return [
            {"path": f.path, "size_bytes": f.size, "checksum": f.checksum}
            for f in list_files(version)
        ]

    @router.get(
        "/{team}/{name}/versions/{number}/files/{path:path}",
        operation_id=op("download"),
        response={200: None},
    )
    def download_file(
        request: HttpRequest, team: str, name: str, number: int, path: str
    ) -> StreamingHttpResponse:
        version = _readable_version(kind, team, name, number)
        size, chunks = open_file(version, path)
        record_access(version.pk, write_through=True)
        response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
        response["Content-Length"] = str(size)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=path.rsplit("/", 1)[-1]
        )
        return response

    @router.post(
        "/{team}/{name}/versions/{number}/access", response={202: None}, operation_id=op("access")
    )
    def mark_used(request: HttpRequest, team: str, name: str, number: int) -> Status[None]:
        """Record that a client loaded this version straight from its store."""
        record_access(_readable_version(kind, team, name, number).pk, write_through=True)
        return Status(202, None)

    @router.get("/{team}/{name}/aliases", response=list[AliasOut], operation_id=op("aliases"))
    def list_aliases(request: HttpRequest, team: str, name: str) -> list[dict[str, Any]]:
        asset = services.get_asset(kind, team, name)
        return [
            _alias_body(a.name, a.version.version, a.updated_at)
            for a in asset.aliases.select_related("version").order_by("name")
        ]

    @router.get(
        "/{team}/{name}/aliases/{alias}", response=VersionOut, operation_id=op("resolve_alias")
    )
    def resolve_alias(request: HttpRequest, team: str, name: str, alias: str) -> dict[str, Any]:
        asset = services.get_asset(kind, team, name)
        return version_body(services.resolve_alias(asset, alias))

    @router.put("/{team}/{name}/aliases/{alias}", response=AliasOut, operation_id=op("set_alias"))
    def set_alias(
        request: HttpRequest, team: str, name: str, alias: str, body: AliasIn
    ) -> dict[str, Any]:
        asset = services.get_asset(kind, team, name)
        require_owner(request.user, asset.team, f"move aliases of {asset.ref}")
        if kind == Kind.MODEL and alias in ENVIRONMENT_ALIASES:
            raise Conflict(
                f"{alias} is an environment alias: models reach it through the promotion "
                f"gate. Use `modelyard promote {asset.ref} {body.version} --to {alias}` or "
                f"POST /api/v1/models/{asset.ref}/promote."
            )
        version = services.get_version(asset, body.version)
        moved = services.set_alias(request.user, asset, alias, version, reason=body.reason)
        return _alias_body(moved.name, version.version, moved.updated_at)

    @router.delete(
        "/{team}/{name}/aliases/{alias}", response={204: None}, operation_id=op("remove_alias")
    )
    def remove_alias(
        request: HttpRequest, team: str, name: str, alias: str, reason: str = ""
    ) -> Status[None]:
        asset = services.get_asset(kind, team, name)
        require_owner(request.user, asset.team, f"remove aliases of {asset.ref}")
        services.remove_alias(request.user, asset, alias, reason=reason)
        return Status(204, None)

    return router


versions_router = Router(tags=["versions"])


@versions_router.get("", response=VersionPage, operation_id="list_all_versions")
def list_all_versions(
    request: HttpRequest,
    filters: Query[VersionFilters],
    params: Query[PageParams],
    kind: Kind | None = None,
) -> dict[str, Any]:
    """Versions of every asset, e.g. everything of a team unused since a date."""
    queryset = filter_versions(AssetVersion.objects.all(), filters)
    if kind:
        queryset = queryset.filter(kind=kind)
    order = "last_accessed_at" if filters.stale_since else "-registered_at"
    return page_of(queryset.order_by(order, "id"), params, version_summaries, summary_columns)


class MemberAuth:
    """Authenticate, then check team membership before the request body is read.

    ninja runs authentication before it parses parameters, so a non-member's upload is
    refused with a 403 up front instead of after every byte has arrived.
    """

    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    def __call__(self, request: HttpRequest) -> User | None:
        user = authenticate(request)
        match = request.resolver_match
        if user is None or match is None:
            return user
        _writable_asset(request, self.kind, match.kwargs["team"], match.kwargs["name"])
        return user


def _writable_asset(request: HttpRequest, kind: Kind, team: str, name: str) -> Asset:
    asset = services.get_asset(kind, team, name)
    require_member(request.user, asset.team, f"change {asset.ref}")
    return asset


def _readable_version(kind: Kind, team: str, name: str, number: int) -> AssetVersion:
    version = services.get_version(services.get_asset(kind, team, name), number)
    if version.is_gone:
        raise Gone(f"{version.ref} was deleted; its bytes are no longer available.")
    return version


def _spec(body: VersionMetadata) -> services.VersionSpec:
    return services.VersionSpec(
        description=body.description,
        flavor=body.flavor,
        signature=body.signature,
        input_example=body.input_example,
        metrics=body.metrics,
        params=body.params,
        tags=body.tags,
        created_at=body.created_at,
        last_accessed_at=body.last_accessed_at,
        lineage=[(_upstream(item.kind, item.ref), item.relation) for item in body.lineage],
    )


def _upstream(kind: str, ref_text: str) -> AssetVersion:
    if kind not in Kind.values:
        raise InvalidInput(
            f"Lineage kind '{kind}' is unknown; use one of: {', '.join(Kind.values)}."
        )
    ref = parse_ref(ref_text)
    if ref.version is None:
        raise InvalidInput(f"Lineage reference '{ref_text}' needs a version: TEAM/NAME:VERSION.")
    try:
        return services.get_version(services.get_asset(kind, ref.team, ref.name), ref.version)
    except NotFound as error:
        raise InvalidInput(f"Lineage: {error.message}") from None


def _parse_upload_metadata(text: str) -> UploadMetadata:
    try:
        return UploadMetadata.model_validate(loads_strict(text or "{}", "metadata"))
    except json.JSONDecodeError as error:
        raise Unprocessable(
            f"metadata: not valid JSON ({error.msg} at position {error.pos})."
        ) from None
    except ValidationError as error:
        problems = [f"metadata.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        raise Unprocessable("; ".join(problems), errors=problems) from None


def _upload_sources(
    meta: UploadMetadata, files: list[UploadedFile]
) -> list[services.ArtifactSource]:
    names = meta.upload_names or [f.name or f"file{i}" for i, f in enumerate(files)]
    if len(names) != len(files):
        raise InvalidInput(f"upload_names has {len(names)} names for {len(files)} files.")
    uploads = [
        services.ArtifactSource(name=n, stream=f.file, size=f.size)  # type: ignore[arg-type]
        for n, f in zip(names, files, strict=True)
    ]
    return uploads + [services.ArtifactSource(name=a.name, uri=a.uri) for a in meta.artifacts]


def _alias_body(name: str, version: int, updated_at: datetime) -> dict[str, Any]:
    return {"name": name, "version": version, "updated_at": updated_at}
