"""Consent: attestation with a one-time phrase, the recorded statement, speaker verification."""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from config.net import client_ip
from config.service_errors import ServiceError
from voices.consent_text import ATTESTATION_TEXT, phrase_generate, statement_for
from voices.models import Consent, Flag, Sample, Voice
from voices.selectors import consent_is_expired
from voices.services.dispatch import voice_build_dispatch
from voices.services.moderation import flag_raise
from voices.services.samples import sample_create, sample_files, storage_delete_on_commit

logger = logging.getLogger(__name__)

MISMATCH_MESSAGE = (
    "The consent recording's speaker does not match the samples (similarity {score:.2f}; "
    "{threshold:.2f} is needed). An administrator will review this voice."
)


@transaction.atomic
def consent_issue(*, owner, attest: bool, request=None, api_key=None) -> Consent:
    """Record the owner's attestation and issue a fresh phrase for the consent statement."""
    if not attest:
        raise ServiceError(
            code="attestation_required",
            message="Confirm that you have the right to clone this voice (attest: true).",
        )
    now = timezone.now()
    phrase = phrase_generate()
    consent = Consent.objects.create(
        owner=owner,
        attestation_text=ATTESTATION_TEXT,
        attested_at=now,
        attested_ip=client_ip(request) if request is not None else None,
        phrase=phrase,
        statement=statement_for(phrase),
        expires_at=now + timedelta(seconds=settings.VOICES_CONSENT_PHRASE_TTL_SECONDS),
    )
    audit_record(
        action="voices.consent.attested",
        request=request,
        user=owner,
        api_key=api_key,
        target=consent,
        data={"attestation_text": ATTESTATION_TEXT, "expires_at": consent.expires_at.isoformat()},
    )
    return consent


@transaction.atomic
def consent_recording_add(*, user, consent: Consent, upload, request=None, api_key=None) -> Consent:
    """Attach the recorded statement (it goes through the same intake as any sample).

    A consent not yet used by a voice may be recorded again (say, after a rejected take)
    until its phrase expires; the earlier recording is deleted.
    """
    consent = (
        Consent.objects.select_for_update(of=("self",))
        .select_related("recording")
        .get(pk=consent.pk)
    )
    if consent.owner_id != user.pk:
        raise ServiceError(
            code="not_found",
            message="Not found.",
        )
    if consent.voice_id:
        raise ServiceError(
            code="consent_used",
            message="This consent was already given for a voice; start a new one.",
        )
    if consent_is_expired(consent):
        raise ServiceError(
            code="consent_expired",
            message="This consent phrase has expired; ask for a new one and record it at once.",
        )
    old = consent.recording
    sample = sample_create(
        owner=user,
        upload=upload,
        purpose=Sample.Purpose.CONSENT,
        request=request,
        api_key=api_key,
    )
    consent.recording = sample
    consent.status = Consent.Status.RECORDED
    consent.save(update_fields=["recording", "status"])
    if old is not None:
        storage_delete_on_commit(sample_files(old))
        old.delete()
    audit_record(
        action="voices.consent.recorded",
        request=request,
        user=user,
        api_key=api_key,
        target=consent,
        data={"recording": str(sample.code)},
    )
    return consent


def consent_verify_run(*, consent_id: int) -> None:
    """Worker side (audio queue): compare the consent recording's speaker with the samples'.

    Idempotent: only a recorded consent of a voice that is still building is verified.
    """
    from voices.audio.speaker import verify

    consent = Consent.objects.select_related("voice", "recording").filter(pk=consent_id).first()
    if not _awaits_verification(consent):
        return
    references = list(
        consent.voice.samples.filter(purpose=Sample.Purpose.VOICE, status=Sample.Status.READY)
        .order_by("id")
        .values_list("clean", flat=True)
    )
    threshold = settings.VOICES_SPEAKER_MATCH_THRESHOLD
    try:
        with tempfile.TemporaryDirectory(prefix="timbre-consent-") as tmp:
            paths = [
                _local_copy(name, Path(tmp) / f"ref-{i}.wav") for i, name in enumerate(references)
            ]
            candidate = _local_copy(consent.recording.clean.name, Path(tmp) / "consent.wav")
            matched, score = verify(paths, candidate, threshold=threshold)
    except (OSError, ValueError) as exc:
        logger.warning("speaker verification of consent %s failed: %s", consent.code, exc)
        consent_verification_failed(consent_id=consent.pk, reason=str(exc))
        return
    consent_verification_record(
        consent_id=consent.pk, matched=matched, score=score, threshold=threshold
    )


def _awaits_verification(consent: Consent | None) -> bool:
    return (
        consent is not None
        and consent.status == Consent.Status.RECORDED
        and consent.voice is not None
        and consent.voice.status == Voice.Status.BUILDING
        and consent.recording is not None
        and consent.recording.status == Sample.Status.READY
    )


def _local_copy(name: str, path: Path) -> Path:
    with default_storage.open(name, "rb") as src:
        path.write_bytes(src.read())
    return path


@transaction.atomic
def consent_verification_record(
    *, consent_id: int, matched: bool, score: float, threshold: float
) -> Consent | None:
    """Store the verdict; a match queues the build, a mismatch fails and flags the voice."""
    consent = Consent.objects.select_for_update().filter(pk=consent_id).first()
    if consent is None or consent.status != Consent.Status.RECORDED or consent.voice_id is None:
        return None
    voice = Voice.objects.select_for_update().get(pk=consent.voice_id)
    consent.speaker_score = round(float(score), 4)
    consent.speaker_threshold = threshold
    consent.verified_at = timezone.now()
    consent.status = Consent.Status.VERIFIED if matched else Consent.Status.MISMATCH
    consent.save()
    data = {"score": consent.speaker_score, "threshold": threshold, "voice": str(voice.code)}
    if matched:
        audit_record(
            action="voices.consent.verified",
            actor_type=AuditEvent.ActorType.SYSTEM,
            target=consent,
            data=data,
        )
        voice_build_dispatch(voice)
        return consent
    voice.status = Voice.Status.FAILED
    voice.failure_reason = MISMATCH_MESSAGE.format(score=score, threshold=threshold)
    voice.flagged = True
    voice.flagged_at = timezone.now()
    voice.save(update_fields=["status", "failure_reason", "flagged", "flagged_at", "updated_at"])
    flag = flag_raise(
        kind=Flag.Kind.CONSENT_MISMATCH,
        voice=voice,
        reason=voice.failure_reason,
        details={**data, "consent": str(consent.code)},
    )
    audit_record(
        action="voices.consent.mismatch",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=consent,
        data={**data, "flag": str(flag.code)},
    )
    return consent


@transaction.atomic
def consent_verification_failed(*, consent_id: int, reason: str) -> None:
    """The voices could not be compared at all (e.g. no voiced audio): fail, do not flag."""
    consent = Consent.objects.select_for_update().filter(pk=consent_id).first()
    if consent is None or consent.voice_id is None:
        return
    message = f"We could not compare the consent recording with the samples: {reason}"
    Voice.objects.filter(pk=consent.voice_id, status=Voice.Status.BUILDING).update(
        status=Voice.Status.FAILED, failure_reason=message, updated_at=timezone.now()
    )
    audit_record(
        action="voices.consent.verification_failed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=consent,
        data={"reason": reason},
    )
