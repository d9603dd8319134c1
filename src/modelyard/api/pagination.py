"""One page of a list: `items`, `count`, `limit`, `offset` (limit-offset, like most REST APIs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Model, QuerySet
from ninja import Schema
from pydantic import Field

from modelyard.api.types import Offset

M = TypeVar("M", bound=Model)


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500, description="Items per page (at most 500)")
    offset: Offset = 0


def page(
    queryset: QuerySet[M], params: PageParams, body: Callable[[M], dict[str, Any]]
) -> dict[str, Any]:
    return page_of(queryset, params, lambda rows: [body(row) for row in rows])


def page_of(
    queryset: QuerySet[M],
    params: PageParams,
    bodies: Callable[[list[M]], list[dict[str, Any]]],
    shape: Callable[[QuerySet[M]], QuerySet[M]] | None = None,
) -> dict[str, Any]:
    """A page whose bodies are made together (one look-up for the page, not one per row).

    `shape` adds what only the page's rows need (columns, joins, annotations), so the
    count runs on the filtered rows alone."""
    limit = min(params.limit, settings.API_PAGE_SIZE_MAX)
    shaped = shape(queryset) if shape else queryset
    rows = list(shaped[params.offset : params.offset + limit])
    return {
        "items": bodies(rows),
        "count": queryset.count(),
        "limit": limit,
        "offset": params.offset,
    }
