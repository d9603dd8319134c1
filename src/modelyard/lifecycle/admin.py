from __future__ import annotations

from django.contrib import admin

from modelyard.lifecycle.models import Bounce, Notice, Policy


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin[Policy]):
    list_display = ["__str__", "kind", "team", "environment", "grace_days", "keep_newest"]
    list_filter = ["kind", "environment"]


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin[Notice]):
    """The ledger is written by the scan and the sender only."""

    list_display = ["version", "step", "recipient", "delete_on", "sent_at", "attempts"]
    list_filter = ["step", "sent_at"]
    search_fields = ["recipient", "version__asset__name"]
    list_select_related = ["version__asset__team"]
    readonly_fields = [f.name for f in Notice._meta.concrete_fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Bounce)
class BounceAdmin(admin.ModelAdmin[Bounce]):
    list_display = ["email", "recorded_at", "reason"]
    search_fields = ["email"]
