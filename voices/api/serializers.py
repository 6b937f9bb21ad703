"""Input and output serializers of the voices API (kept apart, as STYLE.md asks)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from voices.models import Voice
from voices.selectors import consent_is_expired, voice_engine_list

# The HTTP status each intake refusal stands for. Intake runs after the upload was accepted
# (202), so these appear in a rejected sample's `error.status`, not as the upload's status.
INTAKE_ERROR_STATUS = {
    "not_audio": 415,
    "no_audio_stream": 415,
    "not_single_audio_stream": 415,
    "unsupported_codec": 415,
    "too_large": 413,
    "corrupt": 422,
    "too_many_channels": 422,
    "sample_rate_too_high": 422,
    "too_long": 422,
    "too_little_speech": 422,
    "processing_failed": 500,
}


# --- samples ---------------------------------------------------------------------------------
class SampleCreateInput(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,  # an empty file is refused by intake (not_audio), like any other
        use_url=False,
        help_text="WAV, MP3, FLAC, M4A/AAC, OGG (Vorbis/Opus) or WebM (Opus); up to your plan's "
        "max_upload_mb.",
    )


class SampleError(serializers.Serializer):
    code = serializers.CharField(help_text="Stable intake error code, e.g. not_audio.")
    message = serializers.CharField()
    status = serializers.IntegerField(help_text="The HTTP status this refusal stands for.")


class SampleOutput(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    status = serializers.CharField()
    purpose = serializers.CharField()
    original_name = serializers.CharField()
    size = serializers.IntegerField()
    duration_seconds = serializers.FloatField(allow_null=True)
    report = serializers.JSONField(help_text="Quality report (voices.audio.intake.QualityReport).")
    error = serializers.SerializerMethodField()
    voice = serializers.UUIDField(source="voice.code", allow_null=True, default=None)
    audio_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    processed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(SampleError(allow_null=True))
    def get_error(self, sample) -> dict | None:
        if not sample.error_code:
            return None
        return {
            "code": sample.error_code,
            "message": sample.error_message,
            "status": INTAKE_ERROR_STATUS.get(sample.error_code, 422),
        }

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_audio_url(self, sample) -> str | None:
        if sample.status != sample.Status.READY:
            return None
        return reverse("api-sample-audio", kwargs={"code": sample.code})


class SampleSummary(SampleOutput):
    class Meta:
        fields = ("id", "status", "original_name", "duration_seconds", "report", "audio_url")

    def get_fields(self):
        fields = super().get_fields()
        return {name: fields[name] for name in self.Meta.fields}


# --- consents --------------------------------------------------------------------------------
class ConsentCreateInput(serializers.Serializer):
    attest = serializers.BooleanField(
        help_text="True: I have the right to clone this voice (the attestation_text in the "
        "answer is what is recorded, with time and IP address)."
    )


class ConsentRecordingInput(SampleCreateInput):
    pass


class ConsentOutput(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    status = serializers.CharField()
    phrase = serializers.CharField()
    statement = serializers.CharField(help_text="Read this aloud for the consent recording.")
    attestation_text = serializers.CharField()
    attested_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="Record the statement before this time.")
    expired = serializers.SerializerMethodField()
    recording = SampleOutput(allow_null=True)
    speaker_score = serializers.FloatField(allow_null=True)
    speaker_threshold = serializers.FloatField(allow_null=True)
    verified_at = serializers.DateTimeField(allow_null=True)
    voice = serializers.UUIDField(source="voice.code", allow_null=True, default=None)

    def get_expired(self, consent) -> bool:
        return consent_is_expired(consent)


class ConsentSummary(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    status = serializers.CharField()
    speaker_score = serializers.FloatField(allow_null=True)


# --- voices ----------------------------------------------------------------------------------
class VoiceCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    language = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Language hint (see /api/v1/languages).",
    )
    labels = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    samples = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, help_text="Ids of your ready samples."
    )
    consent = serializers.UUIDField(help_text="Id of your consent (POST /api/v1/consents).")
    engines = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=16,
        help_text="Cloning engines (names or model ids, GET /api/v1/engines) to build the voice "
        "for, from the same samples and consent; the first is its main engine. Default: the "
        "operator's default model.",
    )


class VoiceEngineInput(serializers.Serializer):
    engine = serializers.CharField(
        max_length=64, help_text="A cloning engine's name or model id (GET /api/v1/engines)."
    )


class VoiceEngineOutput(serializers.Serializer):
    engine = serializers.CharField()
    model_id = serializers.CharField(help_text="What requests pass as `model` to use it.")
    label = serializers.CharField()
    status = serializers.CharField(help_text="ready, building, failed (or the voice's status).")
    failure_reason = serializers.CharField()
    primary = serializers.BooleanField(help_text="The voice's first engine (`engine`).")
    commercial_use = serializers.BooleanField(help_text="The weights' licence allows it.")
    licence = serializers.CharField()


class VoiceUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    labels = serializers.DictField(child=serializers.CharField(), required=False)


class VoiceConsentInput(serializers.Serializer):
    consent = serializers.UUIDField()


class MixItemInput(serializers.Serializer):
    id = serializers.UUIDField()
    weight = serializers.FloatField(help_text="Positive; weights are normalised to sum to 1.")


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "array",
                "minItems": 2,
                "maxItems": 5,
                "items": {
                    "type": "object",
                    "required": ["id", "weight"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "weight": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                    },
                },
            },
            {"type": "string", "example": "Alice(2)+Bob(1)"},
        ]
    }
)
class MixSpecField(serializers.Field):
    """Either [{"id", "weight"}, ...] or the string form "name1(2)+name2(1)"."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            return data
        if not isinstance(data, list):
            raise serializers.ValidationError("Give a list of {id, weight} or 'name(w)+name(w)'.")
        items = MixItemInput(data=data, many=True)
        items.is_valid(raise_exception=True)
        return [(str(item["id"]), item["weight"]) for item in items.validated_data]

    def to_representation(self, value):
        return value


class VoiceMixInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    language = serializers.CharField(required=False, allow_blank=True, default="")
    labels = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    voices = MixSpecField()


class MixSourceOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    weight = serializers.FloatField()


class VoiceOutput(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    name = serializers.CharField()
    description = serializers.CharField()
    language = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=Voice.Status.choices)
    failure_reason = serializers.CharField()
    requires_verification = serializers.SerializerMethodField()
    under_review = serializers.BooleanField(source="flagged")
    blocked = serializers.BooleanField(
        source="is_blocked", help_text="Blocked by an administrator: no request may use it."
    )
    blocked_reason = serializers.CharField(help_text="Why it was blocked (empty otherwise).")
    blocked_at = serializers.DateTimeField(allow_null=True)
    is_stock = serializers.BooleanField()
    engine = serializers.CharField()
    engines = serializers.SerializerMethodField()
    is_mix = serializers.BooleanField()
    mix_sources = MixSourceOutput(many=True)
    consent = serializers.SerializerMethodField()
    samples = SampleSummary(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(VoiceEngineOutput(many=True))
    def get_engines(self, voice) -> list[dict]:
        return voice_engine_list(voice)

    def get_requires_verification(self, voice) -> bool:
        return voice.status == Voice.Status.PENDING_CONSENT

    @extend_schema_field(ConsentSummary(allow_null=True))
    def get_consent(self, voice) -> dict | None:
        consent = getattr(voice, "consent", None)
        return ConsentSummary(consent).data if consent is not None else None


class VoiceReportInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, help_text="What is wrong with this voice (an administrator reads it)."
    )


class VoiceReportOutput(serializers.Serializer):
    id = serializers.UUIDField(source="code")
    status = serializers.CharField()
    voice = serializers.UUIDField(source="voice.code", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


# --- languages -------------------------------------------------------------------------------
class LanguageOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    char_limit = serializers.IntegerField()
    engines = serializers.ListField(
        child=serializers.CharField(), help_text="Installed engines that speak it."
    )
