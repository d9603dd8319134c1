from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from modelyard.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: an audit trail that could be edited would prove nothing."""

    list_display = ["created_at", "actor_label", "action", "team", "asset", "version", "reason"]
    list_filter = ["action", "team"]
    search_fields = ["actor_label", "action", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["team", "asset__team", "version__asset__team"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
