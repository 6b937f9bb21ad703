"""Voices from samples: create (with consent), rename, delete. Every change is audited."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from accounts.selectors import plan_for_user
from audit.services import audit_record
from config.service_errors import ServiceError
from voices import selectors
from voices.models import Consent, Sample, Voice
from voices.services.dispatch import consent_verify_dispatch, voice_build_dispatch
from voices.services.engines import engine_rows_create, engines_clean
from voices.services.samples import sample_create, sample_files, storage_delete_on_commit

MAX_LABELS = 20


def _conflict(code: str, message: str, **details) -> ServiceError:
    return ServiceError(code=code, message=message, details=details)


def _not_found() -> ServiceError:
    return ServiceError(
        code="not_found",
        message="Not found.",
    )


def voice_fields_clean(
    *, name: str, language: str = "", labels=None, engine=None
) -> tuple[str, str, dict]:
    """Validated name, canonical language code (or "") and labels; ServiceError otherwise.
    The language is checked against `engine` (the voice's first engine; default: the default
    model)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ServiceError(
            code="invalid_name", message="Give the voice a name of 1-100 characters."
        )
    engine = engine or selectors.cloning_engine()
    if language and engine is not None:
        try:
            language = engine.resolve_language(language)
        except ValueError as exc:
            raise ServiceError(code="unsupported_language", message=str(exc)) from None
    labels = labels or {}
    if (
        not isinstance(labels, dict)
        or len(labels) > MAX_LABELS
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
    ):
        raise ServiceError(
            code="invalid_labels",
            message=f"Labels are up to {MAX_LABELS} text keys with text values.",
        )
    return name, language, labels


def voice_slots_check(owner) -> None:
    """409 voice_slots_exhausted when the owner already has as many voices as the plan allows.

    Call inside the transaction that creates the voice: the owner's row is locked so that two
    requests at once cannot both take the last slot.
    """
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    slots = plan_for_user(owner).voice_slots
    used = selectors.voice_slots_used(user=owner)
    if used >= slots:
        raise _conflict(
            "voice_slots_exhausted",
            f"Your plan allows {slots} voice{'s' if slots != 1 else ''} and you have {used}. "
            "Delete a voice to make room, or ask an administrator for a larger plan.",
            voice_slots=slots,
            used=used,
        )


def uuid_or_404(value) -> str:
    """A client-sent id as a canonical UUID string; anything else names nothing (404)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise _not_found() from None


def _samples_for_voice(owner, codes, *, require_ready: bool) -> list[Sample]:
    codes = list(dict.fromkeys(uuid_or_404(code) for code in codes or []))
    limit = settings.VOICES_MAX_SAMPLES_PER_VOICE
    if not 1 <= len(codes) <= limit:
        raise ServiceError(code="invalid_samples", message=f"Choose 1 to {limit} samples.")
    found = {
        str(s.code): s
        for s in selectors.visible_to(Sample.objects.select_for_update(), owner).filter(
            code__in=codes
        )
    }
    samples = []
    for code in codes:
        sample = found.get(code)
        if sample is None:
            raise _not_found()
        samples.append(sample)
    samples_check(samples, require_ready=require_ready)
    return samples


def samples_check(
    samples: list[Sample], *, require_ready: bool, voice: Voice | None = None
) -> None:
    """ServiceError unless every sample is a voice sample, free (or the voice's own) and usable."""
    for sample in samples:
        label = sample.original_name or str(sample.code)
        if sample.voice_id and (voice is None or sample.voice_id != voice.pk):
            raise _conflict(
                "sample_in_use", f"{label} already belongs to a voice.", sample=str(sample.code)
            )
        if sample.purpose != Sample.Purpose.VOICE:
            raise ServiceError(
                code="invalid_samples",
                message=f"{label} is a consent recording, not a voice sample.",
            )
        if sample.status == Sample.Status.REJECTED:
            raise ServiceError(
                code="sample_rejected",
                message=f"{label} was rejected: {sample.error_message}",
                details={"sample": str(sample.code), "error_code": sample.error_code},
            )
        if require_ready and sample.status != Sample.Status.READY:
            raise _conflict(
                "sample_not_ready",
                f"{label} is still being processed; wait until it is ready.",
                sample=str(sample.code),
            )


def _consent_for_voice(owner, code) -> Consent:
    if not code:
        raise ServiceError(
            code="consent_required",
            message="A voice needs consent: attest and record the consent statement first.",
        )
    consent = (
        selectors.visible_to(Consent.objects.select_for_update(of=("self",)), owner)
        .filter(code=uuid_or_404(code))
        .select_related("recording")
        .first()
    )
    if consent is None:
        raise _not_found()
    if consent.voice_id:
        raise _conflict("consent_used", "This consent was already given for another voice.")
    recording = consent.recording
    if recording is None:
        if settings.VOICES_CONSENT_RECORDING_REQUIRED:
            raise _conflict(
                "consent_not_recorded",
                "Record the consent statement (with its phrase) before creating the voice.",
            )
        return consent
    if recording.status == Sample.Status.REJECTED:
        raise ServiceError(
            code="consent_recording_rejected",
            message=f"The consent recording was rejected: {recording.error_message} "
            "Record it again.",
        )
    if recording.status != Sample.Status.READY:
        raise _conflict("sample_not_ready", "The consent recording is still being processed.")
    return consent


def _start_build(voice: Voice, consent: Consent) -> None:
    if consent.recording_id:
        consent_verify_dispatch(consent.pk)  # verification queues the build when it matches
    else:
        voice_build_dispatch(voice)


def voice_insert(owner, **fields) -> Voice:
    if not fields.get("engine"):
        engine = selectors.cloning_engine()
        if engine is None:
            raise _conflict(
                "cloning_unavailable",
                "No installed engine clones voices; the operator can add one to TIMBRE_ENGINES.",
            )
        fields["engine"] = engine.name
    try:
        with transaction.atomic():
            return Voice.objects.create(owner=owner, **fields)
    except IntegrityError:
        raise _conflict(
            "voice_name_taken", f"You already have a voice named {fields['name']!r}."
        ) from None


@transaction.atomic
def voice_create(
    *,
    owner,
    name: str,
    sample_codes,
    consent_code,
    description: str = "",
    language: str = "",
    labels=None,
    engines=None,
    request=None,
    api_key=None,
) -> Voice:
    """A voice from 1..N ready samples of the owner, with their consent; the build is queued.

    `engines`: the installed cloning engines (names or model ids) to build it for, first one
    first (the voice's `engine`); none: the default model's. Each is computed from the same
    samples once the one consent check passed.

    The voice is `building` until the consent recording's speaker is verified against the
    samples and the engine has computed its conditioning; then `ready` (or `failed`).
    """
    chosen = engines_clean(engines)
    name, language, labels = voice_fields_clean(
        name=name, language=language, labels=labels, engine=chosen[0]
    )
    samples = _samples_for_voice(owner, sample_codes, require_ready=True)
    consent = _consent_for_voice(owner, consent_code)
    voice_slots_check(owner)
    voice = voice_insert(
        owner,
        name=name,
        description=description or "",
        language=language,
        labels=labels,
        status=Voice.Status.BUILDING,
        engine=chosen[0].name,
    )
    engine_rows_create(voice, chosen[1:])
    Sample.objects.filter(pk__in=[s.pk for s in samples]).update(voice=voice)
    consent.voice = voice
    consent.save(update_fields=["voice"])
    audit_record(
        action="voices.voice.created",
        request=request,
        user=owner,
        api_key=api_key,
        target=voice,
        data={
            "samples": [str(s.code) for s in samples],
            "consent": str(consent.code),
            "engines": [facts.name for facts in chosen],
        },
    )
    _start_build(voice, consent)
    return voice


@transaction.atomic
def voice_create_pending_consent(
    *,
    owner,
    name: str,
    sample_codes=(),
    uploads=(),
    description: str = "",
    language: str = "",
    labels=None,
    engines=None,
    request=None,
    api_key=None,
) -> Voice:
    """A voice whose samples are in but whose owner has not recorded consent yet.

    For the ElevenLabs-compatible /v1/voices/add: `uploads` (files) become samples and go
    through intake; `sample_codes` name samples already uploaded. The voice stays
    `pending_consent` (API: requires_verification) until `voice_consent_attach`.
    """
    chosen = engines_clean(engines)
    name, language, labels = voice_fields_clean(
        name=name, language=language, labels=labels, engine=chosen[0]
    )
    # Before any upload is stored: a refusal after that would leave its files behind in storage
    # (the transaction rolls back rows, not files).
    voice_slots_check(owner)
    created = [
        sample_create(owner=owner, upload=upload, request=request, api_key=api_key)
        for upload in uploads
    ]
    codes = [*sample_codes, *(s.code for s in created)]
    samples = _samples_for_voice(owner, codes, require_ready=False)
    voice = voice_insert(
        owner,
        name=name,
        description=description or "",
        language=language,
        labels=labels,
        status=Voice.Status.PENDING_CONSENT,
        engine=chosen[0].name,
    )
    engine_rows_create(voice, chosen[1:])
    Sample.objects.filter(pk__in=[s.pk for s in samples]).update(voice=voice)
    audit_record(
        action="voices.voice.created",
        request=request,
        user=owner,
        api_key=api_key,
        target=voice,
        data={"samples": [str(s.code) for s in samples], "pending_consent": True},
    )
    return voice


@transaction.atomic
def voice_consent_attach(*, user, voice: Voice, consent_code, request=None, api_key=None) -> Voice:
    """Give a pending voice its consent; verification and the build are queued."""
    voice = _owned_for_change(user, voice)
    if voice.status != Voice.Status.PENDING_CONSENT:
        raise _conflict("voice_not_pending_consent", f"Voice {voice.name!r} is {voice.status}.")
    samples_check(list(voice.samples.all()), require_ready=True, voice=voice)
    consent = _consent_for_voice(user, consent_code)
    consent.voice = voice
    consent.save(update_fields=["voice"])
    voice.status = Voice.Status.BUILDING
    voice.save(update_fields=["status", "updated_at"])
    audit_record(
        action="voices.voice.consent_given",
        request=request,
        user=user,
        api_key=api_key,
        target=voice,
        data={"consent": str(consent.code)},
    )
    _start_build(voice, consent)
    return voice


def _owned_for_change(user, voice: Voice) -> Voice:
    """The voice locked for a change by its owner: 404 for strangers, 403 for stock voices."""
    if voice.is_stock:
        raise ServiceError(
            code="stock_voice_readonly",
            message="Stock voices cannot be renamed, deleted, mixed or cloned.",
        )
    if voice.owner_id != user.pk:
        raise _not_found()
    return Voice.objects.select_for_update().get(pk=voice.pk)


@transaction.atomic
def voice_rename(
    *,
    user,
    voice: Voice,
    name: str | None = None,
    description: str | None = None,
    labels=None,
    request=None,
    api_key=None,
) -> Voice:
    voice = _owned_for_change(user, voice)
    old = {"name": voice.name, "description": voice.description, "labels": voice.labels}
    new_name, _, new_labels = voice_fields_clean(
        name=voice.name if name is None else name,
        labels=voice.labels if labels is None else labels,
    )
    voice.name, voice.labels = new_name, new_labels
    if description is not None:
        voice.description = description
    try:
        with transaction.atomic():
            voice.save(update_fields=["name", "description", "labels", "updated_at"])
    except IntegrityError:
        raise _conflict(
            "voice_name_taken", f"You already have a voice named {new_name!r}."
        ) from None
    new = {"name": voice.name, "description": voice.description, "labels": voice.labels}
    audit_record(
        action="voices.voice.renamed",
        request=request,
        user=user,
        api_key=api_key,
        target=voice,
        data={k: {"old": old[k], "new": new[k]} for k in old if old[k] != new[k]},
    )
    return voice


@transaction.atomic
def voice_delete(*, user, voice: Voice, request=None, api_key=None) -> None:
    """Delete a voice, its samples and its conditioning (rows now, stored files on commit).

    The consent record stays (without its recording): it documents what was agreed and when.
    """
    voice = _owned_for_change(user, voice)
    samples = list(voice.samples.all())
    consent = Consent.objects.select_related("recording").filter(voice=voice).first()
    if consent is not None and consent.recording is not None:
        samples.append(consent.recording)
    names = [voice.conditioning.name] + [name for s in samples for name in sample_files(s)]
    names += [row.conditioning.name for row in voice.conditionings.all() if row.conditioning]
    storage_delete_on_commit(names)
    audit_record(
        action="voices.voice.deleted",
        request=request,
        user=user,
        api_key=api_key,
        target=voice,
        data={"name": voice.name, "samples": [str(s.code) for s in samples]},
    )
    Sample.objects.filter(pk__in=[s.pk for s in samples]).delete()
    voice.delete()
