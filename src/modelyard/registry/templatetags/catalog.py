"""Template helpers for the catalog pages: sizes, ages, numbers, links and signatures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.timesince import timesince

from modelyard.lib import formats
from modelyard.registry.models import Asset, AssetVersion

register = template.Library()

SIGNATURE_PARTS = (("inputs", "Inputs"), ("outputs", "Outputs"), ("columns", "Columns"))


@dataclass(frozen=True)
class SignaturePart:
    title: str
    fields: list[dict[str, Any]]
    has_shape: bool


@register.filter
def bytesize(value: int | None) -> str:
    """1536 → '1.5 KiB' (`lib.formats`, as in the CLI and the emails)."""
    return "—" if value is None else formats.binary_size(value)


@register.filter
def ago(value: datetime | None) -> str:
    """A past moment as '12 days ago'.

    Days rather than weeks or months up to a year: lifecycle thresholds count days.
    """
    if value is None:
        return "never"
    age = timezone.now() - value
    if age < timedelta(minutes=1):
        return "just now"
    if timedelta(days=1) <= age < timedelta(days=365):
        return f"{age.days}\N{NO-BREAK SPACE}{'day' if age.days == 1 else 'days'} ago"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def number(value: Any) -> str:
    """Metrics as people read them: 569.0 → '569', 0.973412 → '0.9734'."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return plain(value)
    return formats.number(value)


@register.filter
def plain(value: Any) -> str:
    """Strings as they are; lists, objects, booleans and null as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@register.filter
def detail_label(key: str) -> str:
    """An audit detail's key as words: bytes_reclaimed → 'bytes reclaimed'."""
    return key.replace("_", " ")


@register.filter
def detail_value(value: Any, key: str = "") -> str:
    """An audit detail's value in full, as people read it: dates, sizes, yes/no, lists.

    Nothing is cut off; nested objects read as `key: value` pairs, not as JSON.
    """
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return bytesize(int(value)) if "bytes" in key else number(value)
    if isinstance(value, str):
        return _moment_text(value)
    if isinstance(value, list):
        return ", ".join(detail_value(item) for item in value) or "—"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "; ".join(f"{detail_label(k)}: {detail_value(v, k)}" for k, v in items)
    return plain(value)


def _moment_text(text: str) -> str:
    """An ISO time as '2026-12-01 09:30 UTC'; any other text as it is."""
    if len(text) < 19 or text[4:5] != "-" or "T" not in text:
        return text
    moment = parse_datetime(text)
    if moment is None:
        return text
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or ''}".rstrip()


@register.filter
def pairs(value: Any) -> list[tuple[str, Any]]:
    """A JSON object's items by key. `tags.items` would look up a tag named "items" first."""
    return sorted(value.items()) if isinstance(value, dict) else []


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


@register.filter
def signature_parts(signature: Any) -> list[SignaturePart]:
    """The inputs/outputs/columns of a signature that are lists of named fields.

    Anything else (another layout, a part that is not a list of objects) yields no part,
    and the page shows the signature as JSON instead.
    """
    if not isinstance(signature, dict):
        return []
    parts = []
    for key, title in SIGNATURE_PARTS:
        fields = signature.get(key)
        if isinstance(fields, list) and fields and all(isinstance(f, dict) for f in fields):
            has_shape = any("shape" in field for field in fields)
            parts.append(SignaturePart(title, fields, has_shape))
    return parts


@register.simple_tag
def team_url(team_name: str) -> str:
    return reverse("registry:team", args=[team_name])


@register.simple_tag
def asset_url(asset: Asset) -> str:
    return reverse("registry:asset", args=[asset.kind, asset.team.name, asset.name])


@register.simple_tag
def version_url(version: AssetVersion) -> str:
    asset = version.asset
    return reverse(
        "registry:version", args=[asset.kind, asset.team.name, asset.name, version.version]
    )
