"""Input serializers of the compatibility APIs, and the output shapes the SDKs parse.

Output field names follow the official SDKs' models (openai 3.x, elevenlabs 2.x); Timbre's own
facts (status, failure_reason, engine, ...) ride along as extra fields, which both SDKs keep.
"""

from __future__ import annotations

from rest_framework import serializers

from synthesis.engines import engines
from synthesis.jobs.encoding import FORMATS
from synthesis.models import SynthesisJob
from voices.models import Consent, Voice

SPEED_MIN, SPEED_MAX = 0.25, 4.0
SPEED_MESSAGE = f"speed must be between {SPEED_MIN} and {SPEED_MAX}."
SPEED_ERRORS = {"min_value": SPEED_MESSAGE, "max_value": SPEED_MESSAGE, "invalid": SPEED_MESSAGE}


def _unix(moment) -> int:
    return int(moment.timestamp())


# --- OpenAI -----------------------------------------------------------------------------------
# Model names are resolved by the views (synthesis.jobs.catalog).
def engine_model_id(engine: str) -> str | None:
    """The model id a history item reports, by the engine that spoke it."""
    facts = engines().get(engine)
    return facts.model_id if facts else None


OPENAI_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


class VoiceReferenceField(serializers.Field):
    """A voice name, a voice id, or {"id": "<voice id>"} (how the openai SDK sends custom ones)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = data.get("id")
        if not isinstance(data, str) or not data.strip():
            raise serializers.ValidationError(
                'Give a voice name, a voice id, or {"id": "<voice id>"}.'
            )
        return data.strip()

    def to_representation(self, value):
        return value


class SpeechInput(serializers.Serializer):
    model = serializers.CharField()
    input = serializers.CharField(allow_blank=True, trim_whitespace=False)
    voice = VoiceReferenceField()
    response_format = serializers.ChoiceField(
        choices=list(OPENAI_CONTENT_TYPES),
        default="mp3",
        error_messages={
            "invalid_choice": "Unsupported response_format {input!r}; use one of: "
            + ", ".join(OPENAI_CONTENT_TYPES)
            + "."
        },
    )
    speed = serializers.FloatField(
        required=False, min_value=SPEED_MIN, max_value=SPEED_MAX, error_messages=SPEED_ERRORS
    )
    stream_format = serializers.ChoiceField(choices=["audio", "sse"], default="audio")
    instructions = serializers.CharField(required=False, allow_blank=True)  # accepted, ignored


def openai_voice(voice: Voice) -> dict:
    return {
        "id": str(voice.code),
        "object": "audio.voice",
        "name": voice.name,
        "created_at": _unix(voice.created_at),
        "type": "audio_sample",
        "status": voice.status,
        "is_stock": voice.is_stock,
        "language": voice.language,
        "engine": voice.engine,
    }


# --- ElevenLabs: requests ---------------------------------------------------------------------
class VoiceSettingsInput(serializers.Serializer):
    # stability, similarity_boost, style, use_speaker_boost: accepted, no effect here.
    speed = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=SPEED_MIN,
        max_value=SPEED_MAX,
        error_messages=SPEED_ERRORS,
    )


class TextToSpeechInput(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    model_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    language_code = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    voice_settings = VoiceSettingsInput(required=False, allow_null=True)
    seed = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=4_294_967_295
    )
    # Request stitching context: accepted and ignored (see synthesis.compat).
    previous_text = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    next_text = serializers.CharField(required=False, allow_null=True, allow_blank=True)


# ElevenLabs' voice_type and category filters: which listed voices (own or stock) each keeps.
VOICE_TYPES = {
    "personal": {"own"},
    "workspace": {"own"},
    "non-default": {"own"},
    "non-community": {"own"},
    "saved": {"own"},
    "default": {"stock"},
    "community": set(),  # no shared voice library here
}
VOICE_CATEGORIES = {
    "premade": {"stock"},
    "cloned": {"own"},
    "generated": set(),
    "professional": set(),
    "high_quality": set(),
}


class HistoryQuery(serializers.Serializer):
    page_size = serializers.IntegerField(required=False, default=100, min_value=1, max_value=1000)
    start_after_history_item_id = serializers.UUIDField(required=False)
    voice_id = serializers.UUIDField(required=False)


class VoiceSearchQuery(serializers.Serializer):
    """GET /v2/voices. Filters with no counterpart here (fine_tuning_state, collection_id, ...)
    are accepted and ignored; voice_ids and language, which may repeat, are read by the view."""

    next_page_token = serializers.RegexField(
        r"^\d{1,9}$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Not a next_page_token this server gave."},
    )
    page_size = serializers.IntegerField(required=False, default=10, min_value=1, max_value=100)
    search = serializers.CharField(required=False, allow_blank=True, default="")
    sort = serializers.ChoiceField(choices=["name", "created_at_unix"], default="name")
    sort_direction = serializers.ChoiceField(choices=["asc", "desc"], required=False)
    voice_type = serializers.ChoiceField(choices=list(VOICE_TYPES), required=False)
    category = serializers.ChoiceField(choices=list(VOICE_CATEGORIES), required=False)
    gender = serializers.CharField(required=False, allow_blank=True)
    age = serializers.CharField(required=False, allow_blank=True)
    accent = serializers.CharField(required=False, allow_blank=True)


class VoiceAddInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    labels = serializers.CharField(required=False, allow_blank=True, default="")
    remove_background_noise = serializers.CharField(required=False)  # accepted, no effect


# --- ElevenLabs: responses --------------------------------------------------------------------
def _sample(sample) -> dict:
    return {
        "sample_id": str(sample.code),
        "file_name": sample.original_name,
        "mime_type": "audio/wav",
        "size_bytes": sample.size,
        "hash": None,
        "duration_secs": sample.duration_seconds,
        "status": sample.status,
    }


_VERIFIED = (Consent.Status.VERIFIED, Consent.Status.OVERRIDDEN)


def _verification(voice: Voice) -> dict | None:
    if voice.is_stock:
        return None
    consent = getattr(voice, "consent", None)
    recorded = consent is not None and consent.recording_id is not None
    return {
        "requires_verification": voice.status == Voice.Status.PENDING_CONSENT,
        "is_verified": consent is not None and consent.status in _VERIFIED,
        "verification_failures": [voice.failure_reason] if voice.flagged else [],
        "verification_attempts_count": int(recorded),
    }


def eleven_voice(voice: Voice, user) -> dict:
    own = voice.owner_id == user.pk
    return {
        "voice_id": str(voice.code),
        "name": voice.name,
        "category": "premade" if voice.is_stock else "cloned",
        "labels": {str(key): str(value) for key, value in (voice.labels or {}).items()},
        "description": voice.description or None,
        "preview_url": None,
        "samples": [_sample(s) for s in voice.samples.all()] if own else None,
        "settings": None,
        "available_for_tiers": [],
        "high_quality_base_model_ids": [],
        "voice_verification": _verification(voice),
        "is_owner": own,
        "is_legacy": False,
        "is_mixed": voice.is_mix,
        "created_at_unix": _unix(voice.created_at),
        "status": voice.status,
        "failure_reason": voice.failure_reason,
        "language": voice.language,
        "engine": voice.engine,
    }


# ElevenLabs' defaults for the settings this site accepts but does not use (speed it does use).
_ELEVEN_SETTINGS = {"stability": 0.5, "similarity_boost": 0.75, "style": 0.0}


def eleven_voice_settings(speed: float) -> dict:
    """A voice's settings as ElevenLabs clients read them. Only `speed` changes the audio here;
    the rest are ElevenLabs' defaults, accepted and ignored on text to speech."""
    return {**_ELEVEN_SETTINGS, "use_speaker_boost": True, "speed": speed}


_HISTORY_STATE = {
    SynthesisJob.Status.QUEUED: "processing",
    SynthesisJob.Status.RUNNING: "processing",
    SynthesisJob.Status.SUCCEEDED: "created",
    SynthesisJob.Status.FAILED: "failed",
    SynthesisJob.Status.CANCELLED: "cancelled",
}


def eleven_output_format(job: SynthesisJob) -> str:
    """ElevenLabs' name for the job's format: codec_rate, with _kbps where the codec has a
    bitrate (mp3_44100_128; an older job without one: the format's default bitrate)."""
    audio_format = FORMATS.get(job.output_format)
    bitrate = job.bitrate or (audio_format.default_bitrate if audio_format else None)
    name = f"{job.output_format}_{job.sample_rate}"
    return f"{name}_{bitrate // 1000}" if bitrate else name


def history_item(job: SynthesisJob) -> dict:
    voice = job.voice
    audio_format = FORMATS.get(job.output_format)
    return {
        "history_item_id": str(job.code),
        "request_id": str(job.code),
        "voice_id": str(voice.code) if voice else None,
        # The engine that spoke the job (older jobs: the voice's engine).
        "model_id": engine_model_id(job.engine or (voice.engine if voice else "")),
        "voice_name": voice.name if voice else None,
        "voice_category": ("premade" if voice.is_stock else "cloned") if voice else None,
        "text": job.text,
        "date_unix": _unix(job.created_at),
        # Timbre keeps no running account total per item: the difference is what it cost.
        "character_count_change_from": 0,
        "character_count_change_to": job.characters,
        "content_type": audio_format.content_type if audio_format else "application/octet-stream",
        "state": _HISTORY_STATE.get(job.status, job.status),
        "settings": job.params,
        "source": "TTS",
        "output_format": eleven_output_format(job),
        "status": job.status,
        "error": job.error or None,
    }
