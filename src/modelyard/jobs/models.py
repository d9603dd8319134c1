"""Projects (a team's program and its commands, as applied from modelyard.yaml) and runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from modelyard.registry.models import ASSET_NAME_PATTERN, asset_name_validator

PROJECT_NAME_PATTERN = ASSET_NAME_PATTERN


class Project(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=128, validators=[asset_name_validator])
    program = models.CharField(
        max_length=500, help_text="An importable module, or a path to a folder holding one."
    )
    timezone = models.CharField(max_length=64, default="UTC")
    shares_events_with = models.JSONField(
        default=list, blank=True, help_text="Teams whose commands may hear this team's events."
    )
    spec = models.JSONField(default=dict, help_text="The spec as last applied (normalised).")
    source = models.TextField(blank=True, help_text="The modelyard.yaml text last applied.")
    applied_at = models.DateTimeField(auto_now=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="project_unique")]

    def __str__(self) -> str:
        return f"{self.team.name}/{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.team.name}/{self.name}"


class Command(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="commands")
    name = models.CharField(max_length=128, validators=[asset_name_validator])
    entry = models.CharField(max_length=200, help_text="Function in the program's module.")
    schedule = models.CharField(max_length=100, blank=True, help_text="Cron, in the project's TZ.")
    timeout_seconds = models.PositiveIntegerField(default=3600)
    retries = models.PositiveIntegerField(default=0)
    concurrency = models.PositiveIntegerField(default=1)
    triggers = models.JSONField(default=list, blank=True)
    args = models.JSONField(default=dict, blank=True, help_text="Read by the program as ctx.args.")
    run = models.JSONField(
        default=list, blank=True, help_text="A command line, for a command given as a CLI."
    )
    active = models.BooleanField(default=True, help_text="False once removed from the spec.")
    next_fire_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The next instant its schedule is due at (jobs/firing.py).",
    )

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="command_unique")]

    def __str__(self) -> str:
        return f"{self.project}:{self.name}"


class Listener(models.Model):
    """An inverted index of the commands' triggers, rewritten by `apply`: an event finds
    the few commands that may want it by key (jobs/events.py), in one indexed lookup,
    instead of loading and matching every command."""

    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="listeners")
    key = models.CharField(max_length=255, help_text="`event`, or `event key=value`.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["command", "key"], name="listener_unique")]
        indexes = [models.Index(fields=["key"], name="listener_key")]

    def __str__(self) -> str:
        return f"{self.command} <- {self.key}"


class Firing(models.Model):
    """One row per scheduled instant a command was fired for: a cron time fires once, however
    often or from however many processes the schedule is looked at (jobs/firing.py)."""

    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="firings")
    scheduled_for = models.DateTimeField(help_text="The instant the schedule was due at.")
    fired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [
            models.UniqueConstraint(fields=["command", "scheduled_for"], name="firing_once")
        ]

    def __str__(self) -> str:
        return f"{self.command} at {self.scheduled_for:%Y-%m-%d %H:%M} UTC"


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    TIMED_OUT = "timed_out", "Timed out"


FINISHED = (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.TIMED_OUT)


class Run(models.Model):
    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="runs")
    # Copied from the command's project: the caps count running runs per team and command.
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    reason = models.CharField(max_length=32, help_text="cron, event, manual or rerun.")
    triggers = models.JSONField(default=list, blank=True, help_text="Events folded into it.")
    events = models.PositiveIntegerField(default=0, help_text="How many events it absorbed.")
    attempt = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Retry backoff.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    logs = models.TextField(blank=True, help_text="The end of the run's output.")
    outputs = models.JSONField(default=list, blank=True, help_text="Versions it registered.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Coalescing, enforced by the database: at most one queued run per command.
            models.UniqueConstraint(
                fields=["command"], condition=Q(state="queued"), name="run_one_queued"
            )
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="run_state"),
            models.Index(fields=["command", "-created_at"], name="run_command_recent"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.command} ({self.state})"


class Capacity(models.Model):
    """Row `runs` is locked by the dispatcher: counting and claiming slots never interleave.
    Row `dispatch-asked` counts requests for a dispatch (jobs.services.dispatch)."""

    name = models.CharField(max_length=16, unique=True, default="runs")
    generation = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name
