"""The voices API: samples, consents, voices, mixes and languages (under /api/v1/).

Views are thin: parse input, call a selector or service, serialise. Someone else's object is a
404 everywhere (voices.selectors.visible_to); errors use the one error shape (config.api).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.auth import request_api_key
from config import ranges
from config.api import ApiError, ErrorOutput
from config.textcheck import StrictMultiPartParser
from voices import selectors, services
from voices.api import serializers as s
from voices.models import Sample
from voices.uploads import UploadLimitMixin

READ_WRITE = {
    "GET": "voices:read",
    "POST": "voices:write",
    "PATCH": "voices:write",
    "DELETE": "voices:write",
}
UPLOAD_PARSERS = [StrictMultiPartParser, FormParser]


def errors(*pairs: tuple[int, str]) -> dict:
    """drf-spectacular responses for the error statuses a view can answer."""
    return {code: OpenApiResponse(ErrorOutput, description=text) for code, text in pairs}


AUTH_ERRORS = (
    (401, "Not signed in, or the API key is invalid."),
    (403, "The API key lacks the scope this method needs (voices:read / voices:write)."),
)
NOT_FOUND = (404, "No such object among yours (someone else's objects are 404 too).")
TOO_LARGE = (
    413,
    "upload_too_large: the body is over your plan's max_upload_mb; answered "
    "before the rest of the body is read.",
)
INTAKE_NOTE = (
    "The upload is accepted with 202 and status `uploaded`/`processing`; intake (probe, "
    "transcode, clean) runs on the audio queue. Poll GET /api/v1/samples/{id}: it becomes "
    "`ready` with a quality `report`, or `rejected` with `error` = {code, message, status}. "
    "Codes and the status each stands for: "
    + ", ".join(f"{code} ({code_status})" for code, code_status in s.INTAKE_ERROR_STATUS.items())
    + ". A rejected sample keeps no audio in storage."
)


def _actor(request) -> dict:
    return {"request": request, "api_key": request_api_key(request)}


class VoicesAPIView(GenericAPIView):
    required_scopes = READ_WRITE
    parser_classes = [JSONParser]


# --- samples ---------------------------------------------------------------------------------
class SampleListCreate(UploadLimitMixin, VoicesAPIView):
    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        summary="List your voice samples",
        responses={200: s.SampleOutput(many=True), **errors(*AUTH_ERRORS)},
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.sample_list(user=request.user))
        return self.get_paginated_response(s.SampleOutput(page, many=True).data)

    @extend_schema(
        summary="Upload a voice sample",
        description=INTAKE_NOTE,
        request={"multipart/form-data": s.SampleCreateInput},
        responses={
            202: s.SampleOutput,
            **errors((400, "No file in the request."), *AUTH_ERRORS, TOO_LARGE),
        },
    )
    def post(self, request):
        data = _valid(s.SampleCreateInput, request.data)
        sample = services.sample_create(owner=request.user, upload=data["file"], **_actor(request))
        sample.refresh_from_db()
        return Response(s.SampleOutput(sample).data, status=status.HTTP_202_ACCEPTED)


class SampleDetail(VoicesAPIView):
    @extend_schema(
        summary="A sample with its quality report",
        responses={200: s.SampleOutput, **errors(*AUTH_ERRORS, NOT_FOUND)},
    )
    def get(self, request, code):
        return Response(s.SampleOutput(selectors.sample_get(user=request.user, code=code)).data)

    @extend_schema(
        summary="Delete a sample that no voice uses",
        responses={
            204: None,
            **errors(*AUTH_ERRORS, NOT_FOUND, (409, "sample_in_use: a voice or consent uses it.")),
        },
    )
    def delete(self, request, code):
        sample = selectors.sample_get(user=request.user, code=code)
        services.sample_delete(user=request.user, sample=sample, **_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SampleAudio(VoicesAPIView):
    def perform_content_negotiation(self, request, force=False):
        # An <audio> element or a client asking for audio/* gets the file; errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="The cleaned audio of a ready sample (owner only)",
        responses={
            (200, "audio/wav"): OpenApiResponse(
                OpenApiTypes.BINARY, description="Mono 16-bit PCM WAV, 22,050 Hz."
            ),
            (206, "audio/wav"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The requested byte range (Range, 416 outside)."
            ),
            **errors(*AUTH_ERRORS, NOT_FOUND, (409, "sample_not_ready: no clean audio yet.")),
        },
    )
    def get(self, request, code):
        sample = selectors.sample_get(user=request.user, code=code)
        return sample_audio_response(request, sample)


def sample_audio_response(request, sample: Sample):
    """The clean WAV of a sample the caller has already been found to own (Range: 206)."""
    if sample.status != Sample.Status.READY or not sample.clean:
        raise ApiError(
            code="sample_not_ready",
            message="This sample has no clean audio yet.",
            status_code=status.HTTP_409_CONFLICT,
        )
    return ranges.storage_file_response(
        request,
        sample.clean.storage,
        sample.clean.name,
        content_type="audio/wav",
        filename=f"sample-{sample.code}.wav",
        cache_control="private, max-age=300",
    )


# --- consents --------------------------------------------------------------------------------
class ConsentCreate(VoicesAPIView):
    @extend_schema(
        summary="Attest and get a consent phrase to read aloud",
        description="Records the attestation (its text, time and IP address) and issues a random "
        "phrase inside a statement to record within `expires_at` "
        "(VOICES_CONSENT_PHRASE_TTL_SECONDS).",
        request=s.ConsentCreateInput,
        responses={
            201: s.ConsentOutput,
            **errors((400, "attestation_required: attest must be true."), *AUTH_ERRORS),
        },
    )
    def post(self, request):
        data = _valid(s.ConsentCreateInput, request.data)
        consent = services.consent_issue(
            owner=request.user, attest=data["attest"], **_actor(request)
        )
        return Response(s.ConsentOutput(consent).data, status=status.HTTP_201_CREATED)


class ConsentDetail(VoicesAPIView):
    @extend_schema(
        summary="A consent: status, recording and speaker-verification score",
        responses={200: s.ConsentOutput, **errors(*AUTH_ERRORS, NOT_FOUND)},
    )
    def get(self, request, code):
        return Response(s.ConsentOutput(selectors.consent_get(user=request.user, code=code)).data)


class ConsentRecording(UploadLimitMixin, VoicesAPIView):
    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        summary="Upload the recorded consent statement",
        description="The recording goes through the same intake as a sample (see POST "
        "/api/v1/samples); its speaker is compared with the voice's samples when the voice is "
        "built. A consent not yet given for a voice can be recorded again until it expires.",
        request={"multipart/form-data": s.ConsentRecordingInput},
        responses={
            202: s.ConsentOutput,
            **errors(
                (400, "No file in the request."),
                *AUTH_ERRORS,
                NOT_FOUND,
                (409, "consent_expired / consent_used."),
                TOO_LARGE,
            ),
        },
    )
    def post(self, request, code):
        consent = selectors.consent_get(user=request.user, code=code)
        data = _valid(s.ConsentRecordingInput, request.data)
        consent = services.consent_recording_add(
            user=request.user, consent=consent, upload=data["file"], **_actor(request)
        )
        consent = selectors.consent_get(user=request.user, code=consent.code)
        return Response(s.ConsentOutput(consent).data, status=status.HTTP_202_ACCEPTED)


# --- voices ----------------------------------------------------------------------------------
VOICE_CREATE_ERRORS = (
    (
        400,
        "invalid_request / invalid_samples / unsupported_language / invalid_labels / "
        "consent_required.",
    ),
    *AUTH_ERRORS,
    (404, "A sample or the consent is not among yours."),
    (
        409,
        "sample_not_ready (a sample or the consent recording is still processing), "
        "sample_in_use, consent_used, consent_not_recorded, voice_name_taken, "
        "voice_slots_exhausted (your plan's voice_slots are all used).",
    ),
    (422, "sample_rejected / consent_recording_rejected."),
)


class VoiceListCreate(VoicesAPIView):
    @extend_schema(
        summary="Your voices and the stock voices (is_stock)",
        responses={200: s.VoiceOutput(many=True), **errors(*AUTH_ERRORS)},
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.voice_list(user=request.user))
        return self.get_paginated_response(s.VoiceOutput(page, many=True).data)

    @extend_schema(
        summary="Create a voice from your ready samples and your consent",
        description="Answers 202 with status `building`: the consent recording's speaker is "
        "verified against the samples (audio queue), then the engine computes the voice "
        "(synthesis queue) and it becomes `ready`, or `failed` with `failure_reason`. A speaker "
        "mismatch fails the voice and puts it under review for an administrator.",
        request=s.VoiceCreateInput,
        responses={202: s.VoiceOutput, **errors(*VOICE_CREATE_ERRORS)},
    )
    def post(self, request):
        data = _valid(s.VoiceCreateInput, request.data)
        voice = services.voice_create(
            owner=request.user,
            name=data["name"],
            sample_codes=data["samples"],
            consent_code=data["consent"],
            description=data["description"],
            language=data["language"],
            labels=data["labels"],
            engines=data["engines"],
            **_actor(request),
        )
        voice = selectors.voice_get(user=request.user, code=voice.code)
        return Response(s.VoiceOutput(voice).data, status=status.HTTP_202_ACCEPTED)


STOCK_READONLY = (403, "stock_voice_readonly: stock voices cannot be changed (or: scope missing).")


class VoiceDetail(VoicesAPIView):
    @extend_schema(
        summary="A voice with its samples",
        responses={200: s.VoiceOutput, **errors(*AUTH_ERRORS, NOT_FOUND)},
    )
    def get(self, request, code):
        return Response(s.VoiceOutput(selectors.voice_get(user=request.user, code=code)).data)

    @extend_schema(
        summary="Rename a voice (or change its description or labels)",
        request=s.VoiceUpdateInput,
        responses={
            200: s.VoiceOutput,
            **errors(
                (400, "invalid_request / invalid_name / invalid_labels."),
                AUTH_ERRORS[0],
                STOCK_READONLY,
                NOT_FOUND,
                (409, "voice_name_taken."),
            ),
        },
    )
    def patch(self, request, code):
        voice = selectors.voice_get(user=request.user, code=code)
        data = _valid(s.VoiceUpdateInput, request.data)
        services.voice_rename(user=request.user, voice=voice, **data, **_actor(request))
        return Response(s.VoiceOutput(selectors.voice_get(user=request.user, code=code)).data)

    @extend_schema(
        summary="Delete a voice with its samples and computed conditioning",
        responses={204: None, **errors(AUTH_ERRORS[0], STOCK_READONLY, NOT_FOUND)},
    )
    def delete(self, request, code):
        voice = selectors.voice_get(user=request.user, code=code)
        services.voice_delete(user=request.user, voice=voice, **_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class VoiceConsent(VoicesAPIView):
    @extend_schema(
        summary="Give consent to a voice waiting for it (status pending_consent)",
        description="For voices made through /v1/voices/add (requires_verification: true). "
        "Answers 202; the voice is verified and built as after POST /api/v1/voices.",
        request=s.VoiceConsentInput,
        responses={
            202: s.VoiceOutput,
            **errors(
                (400, "invalid_request."),
                AUTH_ERRORS[0],
                STOCK_READONLY,
                NOT_FOUND,
                (
                    409,
                    "voice_not_pending_consent / sample_not_ready / consent_used / "
                    "consent_not_recorded.",
                ),
                (422, "sample_rejected / consent_recording_rejected."),
            ),
        },
    )
    def post(self, request, code):
        voice = selectors.voice_get(user=request.user, code=code)
        data = _valid(s.VoiceConsentInput, request.data)
        services.voice_consent_attach(
            user=request.user, voice=voice, consent_code=data["consent"], **_actor(request)
        )
        voice = selectors.voice_get(user=request.user, code=code)
        return Response(s.VoiceOutput(voice).data, status=status.HTTP_202_ACCEPTED)


class VoiceEngines(VoicesAPIView):
    @extend_schema(
        summary="Build a ready voice for one more engine (model)",
        description="Answers 202 with the voice; the new entry of `engines` is `building` until "
        "that engine's worker has computed it from the voice's samples (same consent), then "
        "`ready`: requests may then name that engine as their `model`.",
        request=s.VoiceEngineInput,
        responses={
            202: s.VoiceOutput,
            **errors(
                (400, "invalid_request / unsupported_engine (not an installed cloning engine)."),
                AUTH_ERRORS[0],
                (403, "stock_voice_readonly / voice_blocked (or: scope missing)."),
                NOT_FOUND,
                (409, "voice_not_ready / voice_is_mix / engine_already_added / voice_no_samples."),
            ),
        },
    )
    def post(self, request, code):
        voice = selectors.voice_get(user=request.user, code=code)
        data = _valid(s.VoiceEngineInput, request.data)
        services.voice_engine_add(
            user=request.user, voice=voice, engine=data["engine"], **_actor(request)
        )
        voice = selectors.voice_get(user=request.user, code=code)
        return Response(s.VoiceOutput(voice).data, status=status.HTTP_202_ACCEPTED)


class VoiceMix(VoicesAPIView):
    @extend_schema(
        summary="Mix 2-5 of your ready voices into a new voice",
        description='`voices` is a list of {"id", "weight"} or the string form '
        '"name1(2)+name2(1)" (a weight left out is 1). Weights must be positive; they are '
        "normalised to sum to 1. The mix is computed at once and is `ready` in the answer.",
        request=s.VoiceMixInput,
        responses={
            201: s.VoiceOutput,
            **errors(
                (
                    400,
                    "invalid_weight (zero, negative or not a number), invalid_mix, "
                    "stock_voice_not_mixable, engine_mismatch, voices_not_mixable.",
                ),
                *AUTH_ERRORS,
                (404, "A voice is not among yours."),
                (409, "voice_not_ready / voice_name_taken / voice_slots_exhausted."),
            ),
        },
    )
    def post(self, request):
        data = _valid(s.VoiceMixInput, request.data)
        items = _mix_items(request.user, data["voices"])
        voice = services.voice_mix(
            owner=request.user,
            name=data["name"],
            items=items,
            description=data["description"],
            language=data["language"],
            labels=data["labels"],
            **_actor(request),
        )
        voice = selectors.voice_get(user=request.user, code=voice.code)
        return Response(s.VoiceOutput(voice).data, status=status.HTTP_201_CREATED)


def _mix_items(user, spec) -> list:
    if isinstance(spec, str):
        return [
            (selectors.voice_find(user=user, reference=name), weight)
            for name, weight in services.mix_spec_parse(spec)
        ]
    return [(selectors.voice_get(user=user, code=code), weight) for code, weight in spec]


# --- languages -------------------------------------------------------------------------------
class LanguageList(APIView):
    required_scope = "voices:read"

    @extend_schema(
        summary="Languages voices can speak, with the per-request chunk character limit",
        responses={200: s.LanguageOutput(many=True), **errors(*AUTH_ERRORS)},
    )
    def get(self, request):
        return Response(s.LanguageOutput(selectors.language_list(), many=True).data)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
