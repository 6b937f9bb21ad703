"""Input and output serializers of the synthesis API (kept apart, as STYLE.md asks)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from synthesis.jobs.checks import OUTPUT_FORMATS
from synthesis.models import SynthesisBatch, SynthesisJob, WebhookDelivery


def absolute_url(path: str, context: dict) -> str:
    """A full URL: from the request when there is one, else from SITE_URL (webhooks)."""
    request = context.get("request")
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.SITE_URL.rstrip("/") + path


# --- input -------------------------------------------------------------------------------------
class ParametersInput(serializers.DictField):
    """Synthesis parameters. Which ones a voice takes, with their ranges and defaults, depends
    on its engine (`GET /api/v1/engines`); the service checks them (400 invalid_parameters)."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            'Engine parameters, e.g. {"speed": 1.1, "seed": 7}; see GET /api/v1/engines '
            "for what each engine accepts.",
        )
        super().__init__(child=serializers.JSONField(), **kwargs)


class TextInput(serializers.Serializer):
    """What one text to speak needs (a job, a stream, or an item of a batch)."""

    text = serializers.CharField(
        trim_whitespace=False,
        allow_blank=True,  # refused by the service with the code empty_text
        help_text="What to say. Limit: SYNTHESIS_MAX_CHARACTERS (streaming: "
        "SYNTHESIS_STREAM_MAX_CHARACTERS). Each character counts against your monthly quota.",
    )
    voice = serializers.UUIDField(help_text="Id of one of your voices or of a stock voice.")
    model = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="The engine that speaks: a model id or alias from GET /api/v1/models (e.g. "
        "chatterbox-multilingual, xtts-v2); default: the operator's default model when the "
        "voice is built for it, else the voice's first engine. 400 model_not_available when "
        "the voice is not built for it.",
    )
    language = serializers.CharField(
        required=False, max_length=16, help_text="e.g. en, de, zh-cn; default: the voice's."
    )
    format = serializers.CharField(
        required=False,
        default="mp3",
        max_length=8,
        help_text=f"One of {', '.join(OUTPUT_FORMATS)}. Every format carries the inaudible "
        "watermark; stored wav, mp3 and flac outputs also carry signed content credentials "
        "(C2PA) when the operator configured a key. opus, aac (ADTS), pcm, ulaw and alaw have "
        "no place for a manifest and never carry one (see POST /api/v1/provenance/detect).",
    )
    sample_rate = serializers.IntegerField(
        required=False, help_text="Output rate in Hz; default: the engine's (24,000 for XTTS)."
    )
    parameters = ParametersInput(required=False)
    timestamps = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: store character and word timings with the audio (from the engine "
        "where it can tell, else estimated); streams also send them (see the README).",
    )


class JobCreateInput(TextInput):
    webhook_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="http(s) URL to POST a signed event to when the job succeeds or fails.",
    )
    store = serializers.BooleanField(
        required=False,
        default=True,
        help_text="False: the audio is deleted after its first complete download.",
    )


class BatchItemInput(serializers.Serializer):
    """An item of a batch; any field left out is taken from the batch's own fields."""

    text = serializers.CharField(trim_whitespace=False, allow_blank=True)
    voice = serializers.UUIDField(required=False)
    model = serializers.CharField(required=False, allow_blank=True, max_length=100)
    language = serializers.CharField(required=False, max_length=16)
    format = serializers.CharField(required=False, max_length=8)
    sample_rate = serializers.IntegerField(required=False)
    parameters = ParametersInput(required=False)


class BatchCreateInput(serializers.Serializer):
    items = BatchItemInput(
        many=True, help_text="1 to SYNTHESIS_BATCH_MAX_ITEMS texts (50 unless configured)."
    )
    voice = serializers.UUIDField(required=False, help_text="Default voice of the items.")
    model = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Default model of the items."
    )
    language = serializers.CharField(required=False, max_length=16)
    format = serializers.CharField(required=False, default="mp3", max_length=8)
    sample_rate = serializers.IntegerField(required=False)
    parameters = ParametersInput(required=False)
    webhook_url = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate_items(self, items):
        limit = settings.SYNTHESIS_BATCH_MAX_ITEMS
        if not 1 <= len(items) <= limit:
            raise serializers.ValidationError(f"Send 1 to {limit} items ({len(items)} sent).")
        return items


class JobListFilters(serializers.Serializer):
    voice = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=SynthesisJob.Status.choices, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


# --- output ------------------------------------------------------------------------------------
class DurationsOutput(serializers.Serializer):
    audio_seconds = serializers.FloatField(allow_null=True)
    compute_seconds = serializers.FloatField(allow_null=True)
    queued_seconds = serializers.FloatField(allow_null=True, help_text="Waiting for a worker.")


class CostOutput(serializers.Serializer):
    characters = serializers.IntegerField(help_text="Characters this job counts against quota.")
    state = serializers.CharField(
        help_text="reserved (in progress), settled (charged), refunded (failed or cancelled)."
    )


class JobOutput(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    status = serializers.CharField()
    progress = serializers.FloatField()
    chunks_done = serializers.IntegerField()
    chunks_total = serializers.IntegerField()
    voice = serializers.SerializerMethodField()
    engine = serializers.CharField(
        source="engine_name", help_text="The engine that speaks the job (GET /api/v1/engines)."
    )
    model = serializers.CharField(
        source="model_id", help_text="That engine's model id (what `model` names)."
    )
    language = serializers.CharField()
    format = serializers.CharField(source="output_format")
    sample_rate = serializers.IntegerField()
    parameters = serializers.JSONField(source="params")
    text_preview = serializers.SerializerMethodField()
    stream = serializers.BooleanField()
    store = serializers.BooleanField()
    webhook_url = serializers.CharField()
    batch = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField()
    durations = serializers.SerializerMethodField()
    audio_url = serializers.SerializerMethodField()
    audio_bytes = serializers.IntegerField()
    audio_expires_at = serializers.DateTimeField(source="expires_at", allow_null=True)
    audio_deleted = serializers.SerializerMethodField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(OpenApiTypes.UUID)
    def get_voice(self, job) -> str | None:
        return str(job.voice.code) if job.voice_id else None

    def get_text_preview(self, job) -> str:
        return job.text if len(job.text) <= 120 else job.text[:119] + "…"

    @extend_schema_field(OpenApiTypes.UUID)
    def get_batch(self, job) -> str | None:
        return str(job.batch.code) if job.batch_id else None

    @extend_schema_field(CostOutput)
    def get_cost(self, job) -> dict:
        return {"characters": job.characters, "state": job.quota_state}

    @extend_schema_field(DurationsOutput)
    def get_durations(self, job) -> dict:
        queued = (job.started_at - job.created_at).total_seconds() if job.started_at else None
        return {
            "audio_seconds": job.audio_seconds,
            "compute_seconds": job.compute_seconds,
            "queued_seconds": queued,
        }

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_audio_url(self, job) -> str | None:
        if job.status != SynthesisJob.Status.SUCCEEDED or not job.audio:
            return None
        return absolute_url(reverse("api-synthesis-audio", kwargs={"code": job.code}), self.context)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_audio_deleted(self, job) -> str | None:
        """Why the audio is gone: expired, downloaded (store=false); null while it is kept."""
        return job.audio_deleted_reason or None


class WordOutput(serializers.Serializer):
    word = serializers.CharField()
    start = serializers.FloatField(help_text="Seconds from the start of the audio.")
    end = serializers.FloatField()
    chunk = serializers.IntegerField(help_text="Index of the chunk (sentence) it is in.")


class JobTimingsOutput(serializers.Serializer):
    source = serializers.CharField(help_text="engine, estimate or mixed (per chunk in the file).")
    words = WordOutput(many=True)
    url = serializers.URLField(help_text="Every character's timings (GET, JSON).")


class CaptionsOutput(serializers.Serializer):
    vtt = serializers.URLField()
    srt = serializers.URLField()


class JobDetailOutput(JobOutput):
    text = serializers.CharField()
    timestamps = serializers.BooleanField()
    timings = serializers.SerializerMethodField()
    captions = serializers.SerializerMethodField()

    @extend_schema_field(JobTimingsOutput(allow_null=True))
    def get_timings(self, job) -> dict | None:
        """Words of a job made with timestamps, once it succeeded (null otherwise)."""
        from synthesis.jobs.outputs import job_timings

        if not job.timestamps or not job.timings:
            return None
        document = job_timings(job)
        if document is None:
            return None
        sources = {chunk.get("source") for chunk in document["chunks"]}
        path = reverse("api-synthesis-timings", kwargs={"code": job.code})
        return {
            "source": sources.pop() if len(sources) == 1 else "mixed",
            "words": document["words"],
            "url": absolute_url(path, self.context),
        }

    @extend_schema_field(CaptionsOutput(allow_null=True))
    def get_captions(self, job) -> dict | None:
        if job.status != SynthesisJob.Status.SUCCEEDED or not job.audio:
            return None
        return {
            fmt: absolute_url(
                reverse(f"api-synthesis-captions-{fmt}", kwargs={"code": job.code}),
                self.context,
            )
            for fmt in ("vtt", "srt")
        }


class TimingsChunkOutput(serializers.Serializer):
    index = serializers.IntegerField()
    text = serializers.CharField()
    text_offset = serializers.IntegerField(help_text="Where it starts in `text`.")
    start = serializers.FloatField()
    end = serializers.FloatField()
    source = serializers.CharField()
    characters = serializers.ListField(child=serializers.CharField())
    starts = serializers.ListField(child=serializers.FloatField())
    ends = serializers.ListField(child=serializers.FloatField())


class AlignmentOutput(serializers.Serializer):
    characters = serializers.ListField(child=serializers.CharField())
    character_start_times_seconds = serializers.ListField(child=serializers.FloatField())
    character_end_times_seconds = serializers.ListField(child=serializers.FloatField())


class TimingsOutput(serializers.Serializer):
    source = serializers.CharField()
    duration = serializers.FloatField()
    text = serializers.CharField(help_text="The normalised text the engine spoke.")
    chunks = TimingsChunkOutput(many=True)
    words = WordOutput(many=True)
    alignment = AlignmentOutput(help_text="Every character of the text as sent.")


class BatchItemOutput(serializers.Serializer):
    index = serializers.IntegerField(source="batch_index")
    id = serializers.UUIDField(source="code")
    status = serializers.CharField()
    progress = serializers.FloatField()
    characters = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)


class BatchCountsOutput(serializers.Serializer):
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class BatchOutput(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    status = serializers.ChoiceField(choices=SynthesisBatch.Status.choices)
    total_items = serializers.IntegerField()
    total_characters = serializers.IntegerField()
    counts = serializers.SerializerMethodField()
    items = serializers.SerializerMethodField()
    archive_url = serializers.SerializerMethodField()
    archive_bytes = serializers.IntegerField()
    archive_expires_at = serializers.DateTimeField(source="expires_at", allow_null=True)
    webhook_url = serializers.CharField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def _jobs(self, batch) -> list:
        cached = getattr(batch, "_prefetched_objects_cache", {}).get("jobs")
        jobs = list(cached) if cached is not None else list(batch.jobs.all())
        return sorted(jobs, key=lambda job: job.batch_index or 0)

    @extend_schema_field(BatchCountsOutput)
    def get_counts(self, batch) -> dict:
        counts = dict.fromkeys(SynthesisJob.Status.values, 0)
        for job in self._jobs(batch):
            counts[job.status] += 1
        return counts

    @extend_schema_field(BatchItemOutput(many=True))
    def get_items(self, batch) -> list:
        return BatchItemOutput(self._jobs(batch), many=True).data

    @extend_schema_field(OpenApiTypes.URI)
    def get_archive_url(self, batch) -> str | None:
        if batch.status != SynthesisBatch.Status.DONE or not batch.archive:
            return None
        path = reverse("api-synthesis-batch-archive", kwargs={"code": batch.code})
        return absolute_url(path, self.context)


class EngineParameterOutput(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(help_text="int or float")
    default = serializers.JSONField(allow_null=True)
    minimum = serializers.FloatField(allow_null=True)
    maximum = serializers.FloatField(allow_null=True)
    nullable = serializers.BooleanField()
    description = serializers.CharField(allow_blank=True)


class EngineOutput(serializers.Serializer):
    """An installed engine's declared facts, and whether a worker has it loaded now."""

    name = serializers.CharField()
    label = serializers.CharField()
    model_id = serializers.CharField(help_text="What compatible clients pass as model/model_id.")
    sample_rate = serializers.IntegerField()
    languages = serializers.ListField(child=serializers.CharField())
    voice_language_only = serializers.BooleanField(
        help_text="A voice speaks only its own language (stock voices)."
    )
    parameters = EngineParameterOutput(many=True)
    clones = serializers.BooleanField()
    stock_voices = serializers.BooleanField()
    streams = serializers.BooleanField()
    needs_reference_text = serializers.BooleanField()
    commercial_use = serializers.BooleanField()
    licence = serializers.CharField()
    ready = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text="Why it is not ready.")


class CharacterCountersOutput(serializers.Serializer):
    used = serializers.IntegerField()
    reserved = serializers.IntegerField(help_text="Held by jobs in progress.")
    limit = serializers.IntegerField(allow_null=True)
    remaining = serializers.IntegerField(allow_null=True)


class KeyUsageOutput(CharacterCountersOutput):
    prefix = serializers.CharField()


class UsageDayOutput(serializers.Serializer):
    date = serializers.DateField()
    characters = serializers.IntegerField()
    jobs = serializers.IntegerField()


class SlotsOutput(serializers.Serializer):
    in_use = serializers.IntegerField()
    limit = serializers.IntegerField()


class VoiceSlotsOutput(serializers.Serializer):
    used = serializers.IntegerField()
    limit = serializers.IntegerField()


class StorageOutput(serializers.Serializer):
    used_bytes = serializers.IntegerField()
    limit_bytes = serializers.IntegerField()


class UsageOutput(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM (UTC).")
    characters = CharacterCountersOutput()
    resets_at = serializers.DateTimeField()
    days = UsageDayOutput(many=True, help_text="Settled characters per day of this month.")
    concurrent_jobs = SlotsOutput()
    voice_slots = VoiceSlotsOutput()
    storage = StorageOutput()
    api_key = KeyUsageOutput(allow_null=True, help_text="The calling key's own counters.")


class WebhookSecretOutput(serializers.Serializer):
    secret = serializers.CharField()
    header = serializers.SerializerMethodField()
    scheme = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    rotated_at = serializers.DateTimeField(allow_null=True)

    def get_header(self, secret) -> str:
        from synthesis.webhooks.services import SIGNATURE_HEADER

        return SIGNATURE_HEADER

    def get_scheme(self, secret) -> str:
        return (
            "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' keyed with the secret>; "
            "refuse timestamps older than a few minutes."
        )


class WebhookDeliveryOutput(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    event = serializers.CharField()
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    job = serializers.SerializerMethodField()
    batch = serializers.SerializerMethodField()
    payload = serializers.JSONField()

    @extend_schema_field(OpenApiTypes.UUID)
    def get_job(self, delivery) -> str | None:
        return str(delivery.job.code) if delivery.job_id else None

    @extend_schema_field(OpenApiTypes.UUID)
    def get_batch(self, delivery) -> str | None:
        return str(delivery.batch.code) if delivery.batch_id else None
