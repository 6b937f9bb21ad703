"""Synthesis jobs and the speech engines' published status."""

import uuid

from django.conf import settings
from django.db import models


def job_audio_path(job: "SynthesisJob", filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1]
    return f"synthesis/{job.owner.code}/{job.code}.{ext}"


def job_timings_path(job: "SynthesisJob", filename: str) -> str:
    return f"synthesis/{job.owner.code}/{job.code}.timings.json"


class SynthesisJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class QuotaState(models.TextChoices):
        NONE = "none", "Not charged"
        RESERVED = "reserved", "Reserved"
        SETTLED = "settled", "Settled"
        REFUNDED = "refunded", "Refunded"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="synthesis_jobs"
    )
    voice = models.ForeignKey(
        "voices.Voice", null=True, on_delete=models.SET_NULL, related_name="synthesis_jobs"
    )
    # The engine that speaks this job (the request's model, among the engines the voice is
    # built for); blank on jobs from before engines were chosen per request: the voice's engine.
    engine = models.CharField(max_length=32, blank=True)
    text = models.TextField()
    characters = models.PositiveIntegerField(default=0)
    language = models.CharField(max_length=10, default="en")
    output_format = models.CharField(max_length=8, default="mp3")
    sample_rate = models.PositiveIntegerField(default=24_000)
    # Bits per second the client asked for (mp3, aac, opus); null: the format's default.
    bitrate = models.PositiveIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    cancel_requested = models.BooleanField(default=False)
    # Streamed jobs also push audio to the web process while it is generated (see streaming).
    stream = models.BooleanField(default=False)
    # Character and word timings were asked for: the worker stores them (synthesis.jobs.alignment)
    # as a JSON file beside the audio, and streams push them after each chunk's audio.
    timestamps = models.BooleanField(default=False)
    timings = models.FileField(upload_to=job_timings_path, blank=True, max_length=255)
    progress = models.FloatField(default=0.0)
    chunks_done = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    audio = models.FileField(upload_to=job_audio_path, blank=True, max_length=255)
    audio_seconds = models.FloatField(null=True, blank=True)
    compute_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    # The process running it (host name and pid), so a restarted worker on the same host can tell
    # at once that the job's previous process is dead and take it over.
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The outbox: when the task was last handed to the broker (null: not yet, e.g. broker down).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # --- quota (accounts.usage): what was reserved at request time, settled or refunded once
    api_key = models.ForeignKey(
        "accounts.UserAPIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="synthesis_jobs",
    )
    quota_state = models.CharField(
        max_length=16, choices=QuotaState.choices, default=QuotaState.NONE
    )
    usage_month = models.DateField(null=True, blank=True)
    # Single jobs hold one of the plan's concurrent_jobs slots; batch items share their batch's.
    holds_slot = models.BooleanField(default=False)
    # --- request options of the API
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)
    store = models.BooleanField(
        default=True, help_text="False: the audio is deleted after its first complete download."
    )
    batch = models.ForeignKey(
        "SynthesisBatch", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    batch_index = models.PositiveIntegerField(null=True, blank=True)
    # --- the stored output's life
    audio_bytes = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    audio_deleted_at = models.DateTimeField(null=True, blank=True)
    audio_deleted_reason = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["owner", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="synthesis_idempotency_key_per_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def engine_name(self) -> str:
        """The engine that speaks (spoke) the job; older jobs: their voice's engine."""
        return self.engine or (self.voice.engine if self.voice_id else "")

    @property
    def model_id(self) -> str:
        """The public model id of that engine (what API clients pass as `model`)."""
        from synthesis.engines import engines

        facts = engines().get(self.engine_name)
        return facts.model_id if facts is not None else self.engine_name


class EngineStatusRecord(models.Model):
    """What each synthesis worker process last said about its engine (the web reads this)."""

    hostname = models.CharField(max_length=255)
    engine = models.CharField(max_length=32)
    model_version = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=32, blank=True)
    load_seconds = models.FloatField(null=True, blank=True)
    ready = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    fix = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Written every WORKER_HEARTBEAT_SECONDS by the worker process while it runs: a ready record
    # whose heartbeat is stale belongs to a worker that is gone (readiness, `ops.health`).
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["hostname", "engine"], name="engine_status_per_worker")
        ]

    def __str__(self) -> str:
        return f"{self.engine}@{self.hostname}: {'ready' if self.ready else 'unavailable'}"


def batch_archive_path(batch: "SynthesisBatch", filename: str) -> str:
    return f"synthesis/{batch.owner.code}/batch-{batch.code}.zip"


class SynthesisBatch(models.Model):
    """Many texts requested at once: charged together, delivered as one zip with a manifest."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"  # some items are queued or running
        PACKAGING = "packaging", "Packaging"  # every item ended; the zip is being built
        DONE = "done", "Done"
        FAILED = "failed", "Failed"  # the zip could not be built (items may still be fine)

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="synthesis_batches"
    )
    api_key = models.ForeignKey(
        "accounts.UserAPIKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    total_items = models.PositiveIntegerField(default=0)
    total_characters = models.PositiveIntegerField(default=0)
    holds_slot = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)
    archive = models.FileField(upload_to=batch_archive_path, blank=True, max_length=255)
    archive_bytes = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    archive_deleted_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "synthesis batches"
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="synthesis_batch_idempotency_key_per_owner",
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.code} ({self.status})"


class WebhookSecret(models.Model):
    """The key a user's webhooks are signed with (HMAC-SHA256). Shown to its owner; rotatable."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="webhook_secret",
    )
    # Kept readable on purpose: signing needs the secret itself, not a hash of it.
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"webhook secret of {self.owner}"


class WebhookDelivery(models.Model):
    """One event to POST to a user's webhook URL, with how each attempt went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # not sent yet, or waiting for a retry
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"  # gave up: attempts used, or the URL is refused

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    job = models.ForeignKey(
        SynthesisJob,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_deliveries",
    )
    batch = models.ForeignKey(
        SynthesisBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_deliveries",
    )
    event = models.CharField(max_length=64)
    url = models.URLField(max_length=2000)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.url} ({self.status})"


class ModelAlias(models.Model):
    """A model name that OpenAI or ElevenLabs clients send (`model`, `model_id`), accepted by the
    compatible APIs (synthesis.compat) and listed by GET /v1/models.

    The request's model decides which engine speaks (synthesis.jobs.catalog): an alias tied to an
    engine picks that engine; an alias without one picks the operator's default model
    (TIMBRE_DEFAULT_MODEL), or the voice's own engine when the voice is not built for it. Edited in
    the admin; seeded with today's vendor names by
    migration 0006 (and again into an empty table after a flush, see synthesis.apps).
    """

    class Surface(models.TextChoices):
        OPENAI = "openai", "OpenAI (model)"
        ELEVENLABS = "elevenlabs", "ElevenLabs (model_id)"
        ANY = "any", "Both"

    name = models.CharField(max_length=100, unique=True)
    surface = models.CharField(max_length=16, choices=Surface.choices, default=Surface.ANY)
    # "" is the default model (TIMBRE_DEFAULT_MODEL). Otherwise an installed engine's name.
    engine = models.CharField(
        max_length=32,
        blank=True,
        help_text="Leave empty to speak with the default model (or the voice's own engine when "
        "the voice is not built for it). An engine name here always picks that engine.",
    )
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(
        default=True, help_text="Disabled aliases are refused and not listed."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["surface", "name"]
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return self.name
