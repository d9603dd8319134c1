"""Projects and runs in the admin, read-only: projects change by `modelyard apply`, runs by
the dispatcher and their executors. Staff may cancel or re-run runs from the list; those
actions go through the same services (and audit rows) as the API and the runs pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from modelyard.jobs import services
from modelyard.jobs.models import Command, Project, Run
from modelyard.lib.errors import ModelyardError


class ReadOnly:
    """Rows a person reads here but never writes: they have their own ways in."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class CommandInline(ReadOnly, admin.TabularInline[Command, Project]):
    model = Command
    extra = 0
    fields = ["name", "entry", "schedule", "timeout_seconds", "retries", "concurrency", "active"]


@admin.register(Project)
class ProjectAdmin(ReadOnly, admin.ModelAdmin[Project]):
    list_display = ["__str__", "program", "timezone", "applied_at", "applied_by"]
    list_filter = ["team"]
    search_fields = ["name", "team__name"]
    inlines = [CommandInline]


@admin.register(Run)
class RunAdmin(ReadOnly, admin.ModelAdmin[Run]):
    list_display = ["id", "command", "state", "reason", "attempt", "progress", "created_at"]
    list_filter = ["state", "reason", "team"]
    search_fields = ["command__name", "command__project__name", "team__name"]
    list_select_related = ["command__project__team"]
    date_hierarchy = "created_at"
    actions = ["cancel_runs", "rerun_runs"]

    @admin.display(description="progress")
    def progress(self, run: Run) -> str:
        if not run.progress_total:
            return str(run.progress_done) if run.progress_done else "—"
        return f"{run.progress_done} / {run.progress_total}"

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request: HttpRequest, runs: QuerySet[Run]) -> None:
        self._each(request, runs, lambda run: services.cancel(request.user, run), "cancelled")

    @admin.action(description="Re-run the selected runs")
    def rerun_runs(self, request: HttpRequest, runs: QuerySet[Run]) -> None:
        self._each(request, runs, lambda run: services.rerun(request.user, run), "queued again")

    def _each(self, request: HttpRequest, runs: QuerySet[Run], act: Any, done: str) -> None:
        count = 0
        for run in runs.select_related("command__project__team"):
            try:
                act(run)
                count += 1
            except ModelyardError as error:
                self.message_user(request, error.message, messages.ERROR)
        if count:
            self.message_user(request, f"{count} run(s) {done}.", messages.SUCCESS)
