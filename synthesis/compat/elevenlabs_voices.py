"""ElevenLabs-compatible voices: GET /v1/voices, GET and DELETE /v1/voices/{id}, and
POST /v1/voices/add (instant voice cloning; `client.voices.ivc.create` in the SDK).

Adding a voice through this endpoint is the key owner's attestation that they have the right to
clone it: it is recorded as a consent (text, time, address) through voices.services.

ElevenLabs clients use a voice on the line after they add it, so the answer comes once the voice
can speak. Where the site requires a spoken consent statement (VOICES_CONSENT_RECORDING_REQUIRED,
the default) the voice waits as `pending_consent`, and the answer is a 403 `consent_required`
whose message names the page to record it on (details: the voice id, the statement and the API
way to upload it). Otherwise the samples go through intake and the voice is built while the
request waits (COMPAT_VOICE_ADD_WAIT_SECONDS in all, polling the database outside any
transaction): 200 once it is ready, or the reason it failed.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
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

_POLL_SECONDS = 0.25
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


class VoiceSearch(ElevenLabsView):
    """GET /v2/voices (the SDK's voices.search): your voices and the stock voices, filtered and
    sorted, a page at a time (next_page_token is an offset into the same query)."""

    required_scope = "voices:read"

    def get(self, request):
        query = valid(s.VoiceSearchQuery, request.query_params)
        voices = _voice_search(request.user, query, request.query_params)
        start, size = int(query.get("next_page_token") or 0), query["page_size"]
        page = list(voices[start : start + size + 1])
        has_more = len(page) > size
        return Response(
            {
                "voices": [s.eleven_voice(v, request.user) for v in page[:size]],
                "has_more": has_more,
                "total_count": voices.count(),
                "next_page_token": str(start + size) if has_more else None,
            }
        )


def _voice_search(user, query: dict, params):
    voices = voice_selectors.voice_list(user=user)
    if term := query["search"].strip():
        match = Q(name__icontains=term) | Q(description__icontains=term)
        match |= Q(labels__icontains=term)
        if term.lower() in ("premade", "cloned"):  # ElevenLabs searches the category too
            match |= Q(is_stock=term.lower() == "premade")
        voices = voices.filter(match)
    kinds = {"own", "stock"}
    if voice_type := query.get("voice_type"):
        kinds &= s.VOICE_TYPES[voice_type]
    if category := query.get("category"):
        kinds &= s.VOICE_CATEGORIES[category]
    if kinds != {"own", "stock"}:
        voices = voices.filter(is_stock__in=[kind == "stock" for kind in kinds])
    for label in ("gender", "age", "accent"):
        if value := (query.get(label) or "").strip():
            voices = voices.filter(**{f"labels__{label}__iexact": value})
    if languages := _listed(params, "language"):
        voices = voices.filter(Q(language__in=languages) | Q(labels__language__in=languages))
    if ids := _listed(params, "voice_ids"):
        voices = voices.filter(code__in=[i for i in ids if _is_uuid(i)])
    field = "name" if query["sort"] == "name" else "created_at"
    descending = query.get("sort_direction", "asc" if field == "name" else "desc") == "desc"
    return voices.order_by(*(f"-{f}" if descending else f for f in (field, "id")))


def _listed(params, name: str) -> list[str]:
    """A query parameter that may repeat or hold commas (the SDK repeats it)."""
    return [v.strip() for raw in params.getlist(name) for v in raw.split(",") if v.strip()]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class VoiceSettings(ElevenLabsView):
    """GET /v1/voices/{voice_id}/settings (voices.settings.get)."""

    required_scope = "voices:read"

    def get(self, request, voice_id):
        voice_selectors.voice_find(user=request.user, reference=voice_id, by_name=False)
        return Response(s.eleven_voice_settings(_default_speed()))


class VoiceSettingsDefault(ElevenLabsView):
    """GET /v1/voices/settings/default (voices.settings.get_default)."""

    required_scope = "voices:read"

    def get(self, request):
        return Response(s.eleven_voice_settings(_default_speed()))


def _default_speed() -> float:
    # Voices keep no settings of their own: every job starts from the site's defaults.
    return float(settings.SYNTHESIS_DEFAULT_PARAMS.get("speed", 1.0))


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
            raise _consent_required(request, voice, consent)  # committed: the voice waits
        deadline = time.monotonic() + settings.COMPAT_VOICE_ADD_WAIT_SECONDS
        voice = _add_and_build(request, uploads, fields, deadline)
        voice = _build_wait(voice, deadline)
        return Response(
            {"voice_id": str(voice.code), "requires_verification": False, "status": voice.status}
        )


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


def _consent_required(request, voice: Voice, consent: Consent) -> ApiError:
    """The voice exists but may not speak until its owner records the consent statement."""
    page = request.build_absolute_uri(reverse("voices:detail", kwargs={"code": voice.code}))
    recording = reverse("api-consent-recording", kwargs={"code": consent.code})
    attach = reverse("api-voice-consent", kwargs={"code": voice.code})
    return ApiError(
        code="consent_required",
        message=f"The voice {voice.name!r} ({voice.code}) was added, but this site needs its "
        f"owner's spoken consent before it can speak: open {page} and record the statement "
        f"there. Then it is built, and usable once GET /v1/voices/{voice.code} says status "
        '"ready".',
        status_code=status.HTTP_403_FORBIDDEN,
        details={
            "voice_id": str(voice.code),
            "consent_url": page,
            "consent_id": str(consent.code),
            "statement": consent.statement,
            "expires_at": consent.expires_at.isoformat(),
            "how": f"Read the statement aloud and upload it (POST {recording}, multipart "
            f'"file") before expires_at, then POST {attach} with {{"consent": '
            f'"{consent.code}"}}; or open consent_url and record it in the browser.',
        },
    )


def _add_and_build(request, uploads: list, fields: dict, deadline: float) -> Voice:
    """No consent recording required: intake the samples, then create the voice (building)."""
    samples = [
        voice_services.sample_create(owner=request.user, upload=upload, **_actor(request))
        for upload in uploads
    ]
    try:
        _intake_wait(request.user, samples, deadline)
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


def _intake_wait(user, samples: list[Sample], deadline: float) -> None:
    """Return once every sample is ready; ApiError when one is rejected or intake is slow."""
    codes = [sample.code for sample in samples]
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
        time.sleep(_POLL_SECONDS)


def _build_wait(voice: Voice, deadline: float) -> Voice:
    """The voice once it is ready; ApiError when its build failed or did not finish in time.

    Each look is its own autocommitted query, so the worker's writes are seen as they land."""
    while True:
        voice.refresh_from_db(fields=["status", "failure_reason"])
        if voice.status == Voice.Status.READY:
            return voice
        if voice.status == Voice.Status.FAILED:
            raise ApiError(
                code="voice_build_failed",
                message=f"The voice {voice.name!r} could not be built: "
                f"{voice.failure_reason or 'no reason was given.'} It stays in your voices "
                "to retry from its page, or to delete (DELETE /v1/voices/"
                f"{voice.code}).",
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                details={"voice_id": str(voice.code), "reason": voice.failure_reason},
            )
        if time.monotonic() > deadline:
            raise ApiError(
                code="voice_build_timeout",
                message=f"The voice {voice.name!r} ({voice.code}) is still being built; it can "
                f'speak once GET /v1/voices/{voice.code} says status "ready". If builds never '
                "finish, the operator must check the synthesis workers.",
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                details={"voice_id": str(voice.code), "status": voice.status},
            )
        time.sleep(_POLL_SECONDS)


def _sample_delete_quietly(request, sample: Sample) -> None:
    # A sample that already belongs to something, or is gone, is left alone.
    with contextlib.suppress(ServiceError):
        voice_services.sample_delete(user=request.user, sample=sample, **_actor(request))
