"""Samples: upload, intake on the audio queue, rejection, deletion. Every change is audited."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from config.service_errors import ServiceError
from voices.models import Sample
from voices.services.dispatch import sample_intake_dispatch
from voices.services.protected import (
    PROTECTED_CODE,
    PROTECTED_MESSAGE,
    protected_hit_flag,
    protected_voice_screen,
)
from voices.uploads import UploadTooLarge, display_name, upload_limit_bytes

logger = logging.getLogger(__name__)

PROCESSING_FAILED = "processing_failed"
_OPEN = (Sample.Status.UPLOADED, Sample.Status.PROCESSING)


def storage_delete_on_commit(names: list[str]) -> None:
    """Delete stored files once the rows that pointed at them are gone for good."""
    names = [name for name in names if name]

    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except Exception:  # OSError, or a botocore error on S3: the row is gone either way
                logger.warning("could not delete %s from storage", name, exc_info=True)

    if names:
        transaction.on_commit(delete)


def sample_files(sample: Sample) -> list[str]:
    return [name for name in (sample.raw.name, sample.clean.name) if name]


def sample_create(
    *, owner, upload, purpose: str = Sample.Purpose.VOICE, request=None, api_key=None
) -> Sample:
    """Store an upload under a generated name and queue its intake on the audio queue.

    The returned sample is `uploaded` (or `processing` once the task was queued); intake
    errors surface later as status `rejected` with `error_code`.
    """
    limit = upload_limit_bytes(owner)
    if upload.size > limit:  # the streaming guard stops bigger bodies; this keeps callers honest
        raise UploadTooLarge(limit)
    sample = Sample(
        owner=owner, purpose=purpose, original_name=display_name(upload.name), size=upload.size
    )
    sample.raw.save("raw", File(upload), save=False)  # not the client's content type
    try:
        with transaction.atomic():
            sample.save()
            audit_record(
                action="voices.sample.uploaded",
                request=request,
                user=owner,
                api_key=api_key,
                target=sample,
                data={"purpose": purpose, "size": upload.size, "name": sample.original_name},
            )
            sample_id = sample.pk
            transaction.on_commit(lambda: sample_intake_dispatch(sample_id))
    except BaseException:
        default_storage.delete(sample.raw.name)
        raise
    return sample


def sample_intake_run(*, sample_id: int) -> None:
    """Worker side: run voices.audio.intake.intake on a local copy of the raw upload.

    Idempotent: a sample that is already ready or rejected (or gone) is left alone.
    """
    from voices.audio.intake import IntakeError, intake

    sample = Sample.objects.filter(pk=sample_id, status__in=_OPEN).first()
    if sample is None:
        return
    Sample.objects.filter(pk=sample.pk, status__in=_OPEN).update(status=Sample.Status.PROCESSING)
    with tempfile.TemporaryDirectory(prefix="timbre-intake-") as tmp:
        local = Path(tmp) / "upload"
        try:
            # A local copy: storage may be a remote bucket, and ffmpeg reads only local files.
            with sample.raw.open("rb") as src, local.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            result = intake(
                local,
                Path(tmp) / "work",
                max_bytes=upload_limit_bytes(sample.owner),
                max_seconds=settings.VOICES_SAMPLE_MAX_SECONDS,
                min_speech_seconds=_min_speech_seconds(sample.purpose),
                denoise=settings.VOICES_SAMPLE_DENOISE,
            )
            protected = _protected_screen(sample, result.clean_wav_path)
        except IntakeError as exc:
            if exc.detail:
                logger.info("sample %s refused (%s): %s", sample.code, exc.code, exc.detail)
            sample_reject(sample_id=sample.pk, code=exc.code, message=exc.message)
            return
        except Exception:  # a bug or a broken worker must not leave the sample "processing"
            logger.exception("intake of sample %s failed", sample.code)
            message = "We could not process this file. Try again; if it keeps failing, tell us."
            sample_reject(sample_id=sample.pk, code=PROCESSING_FAILED, message=message)
            return
        if protected is not None and protected.matched:
            sample_refuse_protected(sample_id=sample.pk, hit=protected)
            return
        sample_intake_succeeded(sample_id=sample.pk, result=result, protected=protected)


def _protected_screen(sample: Sample, clean_wav_path):
    """The closest protected voice (None when there is none, or too little voice to embed).
    Any other failure fails the intake: a sample is never accepted unchecked."""
    try:
        return protected_voice_screen(clean_wav_path)
    except ValueError as exc:
        logger.info("sample %s not compared with protected voices: %s", sample.code, exc)
        return None


def _min_speech_seconds(purpose: str) -> float:
    if purpose == Sample.Purpose.CONSENT:
        return settings.VOICES_CONSENT_MIN_SPEECH_SECONDS
    return settings.VOICES_SAMPLE_MIN_SPEECH_SECONDS


@transaction.atomic
def sample_intake_succeeded(*, sample_id: int, result, protected=None) -> Sample | None:
    """Store the clean WAV and the quality report; the sample becomes ready."""
    sample = Sample.objects.select_for_update().filter(pk=sample_id, status__in=_OPEN).first()
    if sample is None:
        return None  # deleted or finished meanwhile
    with open(result.clean_wav_path, "rb") as handle:
        sample.clean.save("clean.wav", File(handle), save=False)
    sample.report = result.report.to_dict()
    sample.duration_seconds = result.report.clean_seconds
    sample.status = Sample.Status.READY
    sample.processed_at = timezone.now()
    sample.save()
    audit_record(
        action="voices.sample.processed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=sample,
        data={
            "ok": result.report.ok,
            "speech_seconds": result.report.speech_seconds,
            # The closest protected voice, for admins (never in the owner's quality report).
            **({"protected_voice": protected.to_dict()} if protected is not None else {}),
        },
    )
    return sample


@transaction.atomic
def sample_reject(*, sample_id: int, code: str, message: str) -> Sample | None:
    """Refuse a sample: keep the reason, delete every stored byte of it."""
    sample = Sample.objects.select_for_update().filter(pk=sample_id, status__in=_OPEN).first()
    if sample is None:
        return None
    storage_delete_on_commit(sample_files(sample))
    sample.raw = ""
    sample.clean = ""
    sample.status = Sample.Status.REJECTED
    sample.error_code = code
    sample.error_message = message
    sample.processed_at = timezone.now()
    sample.save()
    audit_record(
        action="voices.sample.rejected",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=sample,
        data={"code": code, "message": message},
    )
    return sample


@transaction.atomic
def sample_refuse_protected(*, sample_id: int, hit) -> Sample | None:
    """Refuse a sample that sounds like a protected voice: rejected (its bytes deleted), a
    moderation flag raised, and both audited with the score and threshold."""
    sample = sample_reject(sample_id=sample_id, code=PROTECTED_CODE, message=PROTECTED_MESSAGE)
    if sample is not None:
        protected_hit_flag(sample=sample, hit=hit)
    return sample


@transaction.atomic
def sample_delete(*, user, sample: Sample, request=None, api_key=None) -> None:
    if sample.owner_id != user.pk:
        raise ServiceError(
            code="not_found",
            message="Not found.",
        )
    if sample.voice_id:
        raise ServiceError(
            code="sample_in_use",
            message="This sample belongs to a voice; delete the voice to delete its samples.",
        )
    if sample.purpose == Sample.Purpose.CONSENT and hasattr(sample, "consent"):
        raise ServiceError(
            code="sample_in_use",
            message="This recording is part of a consent record and is kept with it.",
        )
    storage_delete_on_commit(sample_files(sample))
    audit_record(
        action="voices.sample.deleted",
        request=request,
        user=user,
        api_key=api_key,
        target=sample,
        data={"name": sample.original_name, "status": sample.status},
    )
    sample.delete()
