"""POST /api/v1/provenance/detect: "was this audio made here?" for API clients."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, ErrorOutput
from config.service_errors import ServiceError
from config.textcheck import StrictMultiPartParser
from provenance.detection import DetectUnavailable, detect_answer, detect_submit
from voices.api.serializers import INTAKE_ERROR_STATUS
from voices.uploads import UploadLimitMixin, upload_limit_bytes

DESCRIPTION = (
    "Checks one audio file (multipart field `file`; any format and length the sample intake "
    "accepts, within your plan's upload limit) for Timbre's provenance: `watermarked` and "
    "`confidence` (0..1) from the inaudible Perth watermark that every output carries; `c2pa`, "
    "the content credentials signed into WAV, MP3 and FLAC outputs (null when the file has "
    "none; Opus, AAC (ADTS), PCM, µ-law and A-law outputs never carry them); `generated_here` "
    "from the generation registry, which recognises an output even re-encoded or cut: "
    '`{"generated": true, "date": "YYYY-MM-DD"}` (staff also see the account, voice, job and '
    "model of each match), or null. Any API key may call it, or a signed-in session. The check "
    "runs on an audio worker; when none answers within PROVENANCE_DETECT_WAIT_SECONDS the "
    "answer is 503."
)


def refusal_status(code: str) -> int:
    """The HTTP status of a refusal: the sample intake's (415 not audio, 413, 422 ...); the
    checker's own failure is a 502, never a 500."""
    status = INTAKE_ERROR_STATUS.get(code, 422)
    return 502 if status >= 500 else status


class DetectInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)


class GeneratedHere(serializers.Serializer):
    generated = serializers.BooleanField()
    date = serializers.DateField()
    matches = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Staff only."
    )


class DetectOutput(serializers.Serializer):
    watermarked = serializers.BooleanField()
    confidence = serializers.FloatField()
    c2pa = serializers.DictField(allow_null=True)
    generated_here = GeneratedHere(allow_null=True)


def _errors(*pairs: tuple[int, str]) -> dict:
    return {code: OpenApiResponse(ErrorOutput, description=text) for code, text in pairs}


class ProvenanceDetect(UploadLimitMixin, APIView):
    parser_classes = [StrictMultiPartParser, FormParser]
    required_scope = None  # any key: the answer tells a caller nothing about their account

    @extend_schema(
        summary="Was this audio made here? (watermark, content credentials, registry)",
        description=DESCRIPTION,
        request={"multipart/form-data": DetectInput},
        responses={
            200: DetectOutput,
            **_errors(
                (400, "No file in the request."),
                (401, "Not signed in, or the API key is invalid."),
                (413, "upload_too_large: over your plan's max_upload_mb, or too_large."),
                (415, "not_audio / no_audio_stream / unsupported_codec / a video."),
                (422, "corrupt / too_long / too_many_channels / sample_rate_too_high."),
                (503, "detect_unavailable: no audio worker answered in time."),
            ),
        },
    )
    def post(self, request):
        serializer = DetectInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = detect_submit(
                upload=serializer.validated_data["file"],
                max_bytes=upload_limit_bytes(request.user),
            )
        except DetectUnavailable as exc:
            raise ApiError(
                code=exc.code, message=exc.message, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
            ) from exc
        except ServiceError as exc:
            raise ApiError(
                code=exc.code,
                message=exc.message,
                status_code=refusal_status(exc.code),
            ) from exc
        return Response(detect_answer(result, request=request))
