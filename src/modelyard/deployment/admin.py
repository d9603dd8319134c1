"""Gate settings and promotions in the admin, read-only: settings change through
`modelyard gate` (an audited service), and a promotion is a record of what happened."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from modelyard.deployment.models import GateSettings, Promotion
from modelyard.deployment.templatetags.gate import read_attempt


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


PROMOTION_FIELDS = (
    "asset",
    "alias",
    "from_version",
    "to_version",
    "outcome",
    "actor",
    "reason",
    "created_at",
    "checks",
    "report",
)


@admin.register(GateSettings)
class GateSettingsAdmin(ReadOnly, admin.ModelAdmin[GateSettings]):
    list_display = ["asset", "metric", "tolerance", "evaluation_data", "label_column", "updated_at"]
    list_select_related = ["asset__team", "evaluation_data__asset__team"]
    search_fields = ["asset__name", "asset__team__name"]


@admin.register(Promotion)
class PromotionAdmin(ReadOnly, admin.ModelAdmin[Promotion]):
    list_display = [
        "created_at",
        "asset",
        "alias",
        "from_version",
        "to_version",
        "outcome",
        "actor",
    ]
    list_filter = ["outcome", "alias"]
    list_select_related = [
        "asset__team",
        "from_version__asset__team",
        "to_version__asset__team",
        "actor",
    ]
    search_fields = ["asset__name", "asset__team__name", "reason"]
    date_hierarchy = "created_at"
    fields = PROMOTION_FIELDS
    readonly_fields = PROMOTION_FIELDS

    @admin.display(description="checks")
    def checks(self, promotion: Promotion) -> SafeString:
        attempt = read_attempt(promotion)
        if not attempt.checks:
            return format_html("{}", "—")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} <strong>{}</strong>: {}</li>",
                (("✓" if c.passed else "✗", c.name, c.message) for c in attempt.checks),
            ),
        )
