"""ElevenLabs-compatible voices: GET /v1/voices, GET and DELETE /v1/voices/{id}, and
POST /v1/voices/add (instant voice cloning; `client.voices.ivc.create` in the SDK).

Adding a voice through this endpoint is the key owner's attestation that they have the right to
clone it: it is recorded as a consent (text, time, address) through voices.services. Where the
site requires a spoken consent statement (VOICES_CONSENT_RECORDING_REQUIRED, the default) the
voice waits as `pending_consent` and the answer says `requires_verification: true` with how to
record it; otherwise the samples go through intake here and the voice starts building.
"""

from __future__ import annotations

import contextlib
import json
import time

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from rest_framework import status
from rest_framework.parsers import FormParser
from rest_framework.response import Response

from accounts.api.auth import request_api_key
from accounts.selectors import plan_for_user
from config.api import ApiError
from config.service_errors import ServiceError
from config.textcheck import StrictMultiPartParser
from synthesis.compat import serializers as s
from synthesis.compat.common import ElevenLabsView, valid
from voices import selectors as voice_selectors
from voices import services as voice_services
from voices.models import Consent, Sample, Voice
from voices.uploads import UploadLimitMixin

# How long POST /v1/voices/add waits for intake when no consent recording is required.
INTAKE_WAIT_SECONDS = 120.0
_SDK_RETRIED = (408, 409, 429)
_LABELS_MESSAGE = 'labels must be a JSON object of text values, e.g. {"accent": "british"}.'


def _actor(request) -> dict:
    return {"request": request, "api_key": request_api_key(request)}


class VoiceList(ElevenLabsView):
    required_scope = "voices:read"

    def get(self, request):
        voices = voice_selectors.voice_list(user=request.user)
        return Response({"voices": [s.eleven_voice(v, request.user) for v in voices]})


class VoiceDetail(ElevenLabsView):
    required_scopes = {"GET": "voices:read", "DELETE": "voices:write"}

    def get(self, request, voice_id):
        return Response(
            s.eleven_voice(
                voice_selectors.voice_find(user=request.user, reference=voice_id, by_name=False),
                request.user,
            )
        )

    def delete(self, request, voice_id):
        voice = voice_selectors.voice_find(user=request.user, reference=voice_id, by_name=False)
        voice_services.voice_delete(user=request.user, voice=voice, **_actor(request))
        return Response({"status": "ok"})


class VoiceAdd(UploadLimitMixin, ElevenLabsView):
    """POST /v1/voices/add (multipart: name, files..., description, labels as JSON)."""

    required_scope = "voices:write"
    parser_classes = [StrictMultiPartParser, FormParser]

    def finalize_response(self, request, response, *args, **kwargs):
        # The elevenlabs SDK retries 408/409/429/5xx, and its retry drops the form fields (the
        # answer becomes "name: This field is required."), so refusals it would retry are
        # answered 400 here; the error code and message stay the same.
        if response.status_code in _SDK_RETRIED or response.status_code >= 500:
            response.status_code = status.HTTP_400_BAD_REQUEST
        return super().finalize_response(request, response, *args, **kwargs)

    def post(self, request):
        data = valid(s.VoiceAddInput, request.data, codes={"name": "invalid_name"})
        uploads = _uploads(request)
        _refuse_early(request.user, data["name"])
        labels = labels_parse(data["labels"])
        fields = {
            "name": data["name"],
            "description": data["description"],
            "labels": labels,
            "language": _language_hint(labels),
        }
        if settings.VOICES_CONSENT_RECORDING_REQUIRED:
            with transaction.atomic():  # one attestation per voice, or neither
                consent = voice_services.consent_issue(
                    owner=request.user, attest=True, **_actor(request)
                )
                voice = voice_services.voice_create_pending_consent(
                    owner=request.user, uploads=uploads, **fields, **_actor(request)
                )
            return Response(_added(request, voice, consent))
        voice = _add_and_build(request, uploads, fields)
        return Response(_added(request, voice, None))


def _uploads(request) -> list:
    uploads = request.FILES.getlist("files")
    limit = settings.VOICES_MAX_SAMPLES_PER_VOICE
    if not uploads:
        raise ApiError(code="files_required", message="files: add 1 or more recordings.")
    if len(uploads) > limit:
        raise ApiError(code="invalid_samples", message=f"files: add 1 to {limit} recordings.")
    return uploads


def _refuse_early(user, name: str) -> None:
    """The common conflicts, before any upload is stored (a refusal from the service after the
    uploads were saved would leave their files behind). The service still decides."""
    own = voice_selectors.voice_list(user=user, include_stock=False)
    if own.filter(name=name.strip()).exists():
        raise ApiError(code="voice_name_taken", message=f"You already have a voice named {name!r}.")
    slots, used = plan_for_user(user).voice_slots, voice_selectors.voice_slots_used(user=user)
    if used >= slots:
        raise ApiError(
            code="voice_slots_exhausted",
            message=f"Your plan allows {slots} voices and you have {used}. Delete a voice to "
            "make room, or ask an administrator for a larger plan.",
            details={"voice_slots": slots, "used": used},
        )


def labels_parse(raw: str) -> dict:
    """The SDK sends labels as a JSON string ("null" when there are none)."""
    raw = (raw or "").strip()
    try:
        labels = json.loads(raw) if raw else None
    except ValueError:
        raise ApiError(code="invalid_labels", message=_LABELS_MESSAGE) from None
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise ApiError(code="invalid_labels", message=_LABELS_MESSAGE)
    return labels


def _language_hint(labels: dict) -> str:
    # ElevenLabs' "language" label is free text; use it only when it names a language we speak.
    engine = voice_selectors.cloning_engine()
    try:
        return engine.resolve_language(str(labels.get("language") or "")) if engine else ""
    except ValueError:
        return ""


def _added(request, voice: Voice, consent: Consent | None) -> dict:
    answer = {
        "voice_id": str(voice.code),
        "requires_verification": voice.status == Voice.Status.PENDING_CONSENT,
        "status": voice.status,
    }
    if consent is not None and answer["requires_verification"]:
        recording = reverse("api-consent-recording", kwargs={"code": consent.code})
        attach = reverse("api-voice-consent", kwargs={"code": voice.code})
        answer["verification"] = {
            "verification_url": request.build_absolute_uri(
                reverse("voices:detail", kwargs={"code": voice.code})
            ),
            "consent_id": str(consent.code),
            "statement": consent.statement,
            "expires_at": consent.expires_at.isoformat(),
            "how": f"Read the statement aloud and upload it (POST {recording}, multipart "
            f'"file") before expires_at, then POST {attach} with {{"consent": '
            f'"{consent.code}"}}; or open verification_url and record it in the browser.',
        }
    return answer


def _add_and_build(request, uploads: list, fields: dict) -> Voice:
    """No consent recording required: intake the samples, then create the voice (building)."""
    samples = [
        voice_services.sample_create(owner=request.user, upload=upload, **_actor(request))
        for upload in uploads
    ]
    try:
        _intake_wait(request.user, samples)
        with transaction.atomic():
            consent = voice_services.consent_issue(
                owner=request.user, attest=True, **_actor(request)
            )
            return voice_services.voice_create(
                owner=request.user,
                sample_codes=[sample.code for sample in samples],
                consent_code=consent.code,
                **fields,
                **_actor(request),
            )
    except (ApiError, ServiceError):
        for sample in samples:  # nothing half-made stays behind
            _sample_delete_quietly(request, sample)
        raise


def _intake_wait(user, samples: list[Sample]) -> None:
    """Return once every sample is ready; ApiError when one is rejected or intake is slow."""
    codes = [sample.code for sample in samples]
    deadline = time.monotonic() + INTAKE_WAIT_SECONDS
    while True:
        found = list(voice_selectors.sample_list(user=user).filter(code__in=codes))
        rejected = next((x for x in found if x.status == Sample.Status.REJECTED), None)
        if rejected is not None:
            raise ApiError(
                code="sample_rejected",
                message=f"{rejected.original_name} was rejected: {rejected.error_message}",
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                details={"error_code": rejected.error_code},
            )
        if len(found) == len(codes) and all(x.status == Sample.Status.READY for x in found):
            return
        if time.monotonic() > deadline:
            raise ApiError(
                code="intake_timeout",
                message="The recordings were not processed in time; try again. If it keeps "
                "happening, the operator must check the audio workers (queue 'audio').",
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        time.sleep(0.25)


def _sample_delete_quietly(request, sample: Sample) -> None:
    # A sample that already belongs to something, or is gone, is left alone.
    with contextlib.suppress(ServiceError):
        voice_services.sample_delete(user=request.user, sample=sample, **_actor(request))
