"""What monitoring keeps: log settings, per-window summaries, feedback, monitors, alerts."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LogSettings(models.Model):
    """Per model: the share of predictions the serving workers log (default: all)."""

    asset = models.OneToOneField(
        "registry.Asset", on_delete=models.CASCADE, related_name="log_settings"
    )
    sample_rate = models.FloatField(default=1.0, help_text="0 logs nothing, 1 logs every one.")
    entity_keys = models.JSONField(
        default=list,
        help_text="Input columns that identify an entity: feedback may name a prediction by "
        "their values and a time instead of its request id.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"prediction log of {self.asset}"


class ReferenceProfile(models.Model):
    """A model version's reference distribution per input feature: 100 reference-percentile
    bins (99 inner edges) and the reference's share in each. PSI's 10 bins are the deciles,
    every tenth of these edges, so one histogram of live data serves PSI and KS."""

    version = models.OneToOneField(
        "registry.AssetVersion", on_delete=models.CASCADE, related_name="reference_profile"
    )
    source = models.CharField(max_length=300, help_text="The data set version it came from.")
    rows = models.PositiveIntegerField()
    features = models.JSONField(help_text="{feature: a column profile (columns.py)}")
    outputs = models.JSONField(
        null=True, blank=True, help_text="{output: a column profile}, once prediction drift asks"
    )
    output_rows = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"reference of {self.version} from {self.source}"


class WindowSummary(models.Model):
    """Counts and histograms of one model version's logged predictions in one window,
    added to as the log's batches are written; evaluation reads these, never the log."""

    asset = models.ForeignKey("registry.Asset", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("registry.AssetVersion", on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    client_errors = models.PositiveIntegerField(default=0)
    server_errors = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    latency_counts = models.JSONField(default=list, help_text="Counts per LATENCY_BOUNDS bucket.")
    feature_counts = models.JSONField(default=dict, help_text="{feature: [bin counts]}")
    output_counts = models.JSONField(default=dict, help_text="{output: [bin counts]}")
    quality_counts = models.JSONField(
        default=dict, help_text="{feature: [missing, wrong type, below range, above range]}"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "window_start"], name="one_summary_per_version_window"
            )
        ]
        indexes = [models.Index(fields=["asset", "window_start"], name="summary_recent")]

    def __str__(self) -> str:
        return f"{self.version} from {self.window_start:%Y-%m-%d %H:%M}"


class LoggedOutput(models.Model):
    """A logged request's outputs, kept (for models with a live-metric monitor) so feedback
    joins them by request id without reading the Parquet log back."""

    asset = models.ForeignKey("registry.Asset", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("registry.AssetVersion", on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=100)
    logged_at = models.DateTimeField()
    outputs = models.JSONField(help_text="{output name: [value per row]}")
    keys = models.JSONField(
        default=list, help_text="Per row, its entity (LogSettings.entity_keys) as text."
    )

    class Meta:
        indexes = [
            models.Index(fields=["asset", "request_id"], name="logged_output_request"),
            models.Index(fields=["version", "logged_at"], name="logged_output_recent"),
        ]

    def __str__(self) -> str:
        return f"outputs of {self.request_id}"


class Feedback(models.Model):
    """The true label of a logged prediction: by its request id, or by its entity (the values
    of the model's entity keys, as text) and a time: the latest prediction for that entity
    at or before it."""

    asset = models.ForeignKey("registry.Asset", on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=100, blank=True)
    entity = models.CharField(max_length=300, blank=True)
    event_at = models.DateTimeField(null=True, blank=True)
    label = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "request_id"],
                condition=~models.Q(request_id=""),
                name="one_label_per_request",
            ),
            models.UniqueConstraint(
                fields=["asset", "entity", "event_at"],
                condition=~models.Q(entity=""),
                name="one_label_per_entity_time",
            ),
        ]
        indexes = [models.Index(fields=["asset", "event_at"], name="feedback_by_time")]

    def __str__(self) -> str:
        return f"label of {self.request_id or self.entity}"


class Monitor(models.Model):
    class Kind(models.TextChoices):
        DRIFT = "drift", "Data drift per input feature"
        ERRORS = "errors", "Share of requests answered 4xx/5xx"
        LATENCY = "latency", "p99 latency"
        LIVE_METRIC = "live_metric", "The gate's metric on feedback, against the promotion score"
        PREDICTION_DRIFT = "prediction_drift", "Drift of the model's outputs"
        DATA_QUALITY = "data_quality", "Missing, mistyped or out-of-range input values"
        TRAFFIC = "traffic", "Requests falling below a floor"

    REACTIONS = ("notify", "rollback", "event")

    asset = models.ForeignKey("registry.Asset", on_delete=models.CASCADE, related_name="monitors")
    name = models.CharField(max_length=63)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    alias = models.CharField(max_length=63, default="production")
    window_seconds = models.PositiveIntegerField(default=900)
    min_samples = models.PositiveIntegerField(default=100)
    threshold = models.FloatField(
        help_text="drift, prediction_drift: PSI; errors: share of requests (0-1); latency: p99 "
        "in milliseconds; live_metric: how much worse than the promotion score; data_quality: "
        "share of bad values of a feature (0-1); traffic: fewest requests in the window."
    )
    ks_pvalue = models.FloatField(
        default=0.01,
        help_text="drift: a column drifts when PSI > threshold and the two-sample test's "
        "p-value (KS for numbers, chi-square for categories) < this.",
    )
    reactions = models.JSONField(default=list, help_text="Any of notify, rollback, event.")
    cooldown_seconds = models.PositiveIntegerField(default=3600)
    project = models.CharField(
        max_length=63, blank=True, help_text="The project whose modelyard.yaml declares it."
    )
    webhook_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="notify: also post the alert here (Slack-compatible JSON), besides the "
        "team's webhook.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["asset", "name"], name="one_monitor_name_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.asset}: {self.name}"


class Evaluation(models.Model):
    """One evaluation of a monitor: the time series behind its status."""

    class Outcome(models.TextChoices):
        HEALTHY = "healthy", "Healthy"
        FAILING = "failing", "Failing"
        NO_DATA = "no_data", "Too few samples"

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="evaluations")
    evaluated_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    value = models.FloatField(null=True, blank=True)
    samples = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        indexes = [models.Index(fields=["monitor", "-evaluated_at"], name="evaluation_recent")]

    def __str__(self) -> str:
        return f"{self.monitor} {self.outcome} at {self.evaluated_at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    class State(models.TextChoices):
        FIRING = "firing", "Firing"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    OPEN = (State.FIRING, State.ACKNOWLEDGED)

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alerts")
    state = models.CharField(max_length=16, choices=State.choices, default=State.FIRING)
    fired_at = models.DateTimeField()
    details = models.JSONField(default=dict)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    rollback_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            # An incident is one open alert per monitor: re-evaluating never opens another.
            models.UniqueConstraint(
                fields=["monitor"],
                condition=models.Q(state__in=["firing", "acknowledged"]),
                name="one_open_alert_per_monitor",
            )
        ]

    def __str__(self) -> str:
        return f"{self.monitor} {self.state} since {self.fired_at:%Y-%m-%d %H:%M}"


class AlertDelivery(models.Model):
    """One email of one alert to one recipient; `sent_at` set after sending, so a retried
    task never sends twice."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.EmailField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "recipient"], name="one_mail_per_alert")
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} to {self.recipient}"


class LoggedHour(models.Model):
    """An hour of a model's prediction log, registered as a version of its log data set."""

    asset = models.ForeignKey("registry.Asset", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    dataset_version = models.ForeignKey(
        "registry.AssetVersion", on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["asset", "hour"], name="one_log_version_per_hour")
        ]

    def __str__(self) -> str:
        return f"log of {self.asset} at {self.hour:%Y-%m-%d %H}:00"


class TeamAlerting(models.Model):
    """A team's alert webhook: every `notify` reaction of its models' monitors posts there."""

    team = models.OneToOneField("accounts.Team", on_delete=models.CASCADE, related_name="+")
    webhook_url = models.URLField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"alerting of {self.team}"


class WebhookDelivery(models.Model):
    """One post of one alert to one webhook; `sent_at` set once it answered 2xx, so a
    retried task never posts twice, and the attempts and last error show on the alert."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "url"], name="one_post_per_alert_webhook")
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} to {self.url}"
