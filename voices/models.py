"""Cloned voices, the samples they are made from, and the consent behind each of them."""

import uuid

from django.conf import settings
from django.db import models


def conditioning_path(voice: "Voice", filename: str) -> str:
    # Generated names only: nothing a client sent ever becomes part of a path.
    space = voice.owner.code if voice.owner_id else "stock"
    return f"voices/{space}/{voice.code}/conditioning-{uuid.uuid4().hex[:8]}.npz"


def sample_raw_path(sample: "Sample", filename: str) -> str:
    # The client's file name is kept only in `original_name`, never in a path.
    return f"samples/{sample.owner.code}/{sample.code}/raw"


def sample_clean_path(sample: "Sample", filename: str) -> str:
    return f"samples/{sample.owner.code}/{sample.code}/clean.wav"


class Voice(models.Model):
    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        # Created without a consent recording (ElevenLabs-compatible /v1/voices/add); nothing is
        # computed until the owner records their consent statement.
        PENDING_CONSENT = "pending_consent", "Waiting for consent"
        # Its stored conditioning could not be read (missing or corrupt file); it is being
        # rebuilt from its samples, and takes no jobs until then.
        NEEDS_REBUILD = "needs_rebuild", "Being rebuilt"

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    # Stock voices (bundled with an engine, e.g. Piper) have no owner and are seen by everyone.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="voices",
    )
    is_stock = models.BooleanField(default=False)
    stock_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    language = models.CharField(max_length=10, blank=True, help_text="Language hint, e.g. en.")
    labels = models.JSONField(default=dict, blank=True)
    # The engine (a name from TIMBRE_ENGINES) that built the voice and speaks it.
    engine = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    failure_reason = models.TextField(blank=True)
    conditioning = models.FileField(upload_to=conditioning_path, blank=True, max_length=255)
    conditioning_version = models.CharField(max_length=64, blank=True)
    # Set when the consent check refused the voice; an admin reviews it (and may override).
    flagged = models.BooleanField(default=False, db_index=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    # Blocked by an admin (voices.services.moderation): no surface may use it; the owner sees why.
    blocked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    blocked_reason = models.TextField(blank=True)
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # For a mix: [{"id": <voice code>, "name": ..., "weight": <normalised>}]; empty otherwise.
    mix_sources = models.JSONField(default=list, blank=True)
    # The outbox of the build: when its task (or its consent check) was last sent.
    build_dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="voice_name_unique_per_owner")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_mix(self) -> bool:
        return bool(self.mix_sources)

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None


def engine_conditioning_path(row: "VoiceConditioning", filename: str) -> str:
    return conditioning_path(row.voice, filename)


class VoiceConditioning(models.Model):
    """A voice's conditioning for one more engine than its first (`Voice.engine`).

    The voice's first engine keeps its conditioning on the voice itself (`Voice.conditioning`),
    so everything that reads one engine per voice goes on working; each further engine the voice
    is built for has a row here, computed once from the same clean samples under the same
    verified consent (voices.services.engines), and read by the worker of that engine.
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    voice = models.ForeignKey(Voice, on_delete=models.CASCADE, related_name="conditionings")
    engine = models.CharField(max_length=32)
    conditioning = models.FileField(upload_to=engine_conditioning_path, blank=True, max_length=255)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    failure_reason = models.TextField(blank=True)
    # The outbox of the build: when its task was last sent (null: not yet, e.g. broker down).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["voice_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["voice", "engine"], name="voice_conditioning_unique_engine"
            )
        ]

    def __str__(self) -> str:
        return f"{self.voice_id}:{self.engine} ({self.status})"


class Sample(models.Model):
    """One uploaded or recorded piece of audio, before and after intake."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"  # stored, not yet handed to the audio queue
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        REJECTED = "rejected", "Rejected"

    class Purpose(models.TextChoices):
        VOICE = "voice", "Voice sample"
        CONSENT = "consent", "Consent recording"

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="voice_samples"
    )
    # The voice built from this sample; a sample belongs to at most one voice, and deleting the
    # voice deletes its samples.
    voice = models.ForeignKey(
        Voice, null=True, blank=True, on_delete=models.SET_NULL, related_name="samples"
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.VOICE)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.UPLOADED, db_index=True
    )
    original_name = models.CharField(max_length=255, blank=True, help_text="For display only.")
    raw = models.FileField(upload_to=sample_raw_path, blank=True, max_length=255)
    clean = models.FileField(upload_to=sample_clean_path, blank=True, max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)  # of the clean WAV
    report = models.JSONField(
        default=dict, blank=True
    )  # voices.audio.intake.QualityReport.to_dict()
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    # The outbox of the intake: when its task was last sent (null: not yet, e.g. broker down).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.original_name or self.code} ({self.status})"


class Consent(models.Model):
    """The owner's attestation and (normally) a recorded statement with a one-time phrase."""

    class Status(models.TextChoices):
        ISSUED = "issued", "Phrase issued"
        RECORDED = "recorded", "Recorded"
        VERIFIED = "verified", "Speaker verified"
        MISMATCH = "mismatch", "Speaker mismatch"
        OVERRIDDEN = "overridden", "Mismatch overridden by an admin"

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="voice_consents"
    )
    # SET_NULL: the consent record outlives the voice it was given for.
    voice = models.OneToOneField(
        Voice, null=True, blank=True, on_delete=models.SET_NULL, related_name="consent"
    )
    recording = models.OneToOneField(
        Sample, null=True, blank=True, on_delete=models.SET_NULL, related_name="consent"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUED)
    attestation_text = models.TextField(help_text="Exactly the text the owner agreed to.")
    attested_at = models.DateTimeField()
    attested_ip = models.GenericIPAddressField(null=True, blank=True)
    phrase = models.CharField(max_length=200)
    statement = models.TextField(help_text="The sentence the owner was asked to read aloud.")
    expires_at = models.DateTimeField()
    speaker_score = models.FloatField(null=True, blank=True)
    speaker_threshold = models.FloatField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    overridden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Consent {self.code} ({self.status})"


class Flag(models.Model):
    """An item in the admins' moderation queue: a consent mismatch, a protected-voice hit, or a
    user's report. Admins approve (the voice may be used) or reject (the voice is blocked)."""

    class Kind(models.TextChoices):
        CONSENT_MISMATCH = "consent_mismatch", "Consent speaker mismatch"
        PROTECTED_VOICE = "protected_voice", "Protected voice hit"
        REPORT = "report", "User report"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    voice = models.ForeignKey(
        Voice, null=True, blank=True, on_delete=models.SET_NULL, related_name="flags"
    )
    # Who reported it (reports only); the system raises the other kinds.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="voice_reports",
    )
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.status})"


class ProtectedVoice(models.Model):
    """A person who must not be cloned: admins upload samples of their voice, an audio worker
    turns them into one speaker embedding, and every new sample and consent recording whose
    embedding comes within PROTECTED_VOICE_THRESHOLD of an active one is refused and flagged
    (voices.services.protected)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Computing the embedding"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    name = models.CharField(max_length=200)
    note = models.TextField(blank=True, help_text="Why this voice is protected (admins only).")
    # Storage names of the uploaded samples (generated names; raw bytes as uploaded).
    samples = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # The mean resemblyzer embedding of the samples: 256 float32, little-endian, unit length.
    # Raw bytes, never a pickle.
    embedding = models.BinaryField(null=True, blank=True)
    active = models.BooleanField(default=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    embedded_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
