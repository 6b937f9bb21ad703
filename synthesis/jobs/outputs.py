"""What happens to a job's stored audio after it is made: downloads, store=false, deletion.

(Expiry after the plan's retention_days is synthesis.jobs.retention.)
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from config.service_errors import ServiceError
from synthesis.models import SynthesisBatch, SynthesisJob


def job_audio_downloaded(*, job: SynthesisJob, user, byte_range=None, request=None, api_key=None):
    """Audit a download of a job's audio (synthesis.job.downloaded); note the first one."""
    with transaction.atomic():
        SynthesisJob.objects.filter(pk=job.pk, downloaded_at__isnull=True).update(
            downloaded_at=timezone.now()
        )
        audit_record(
            action="synthesis.job.downloaded",
            request=request,
            user=user,
            api_key=api_key,
            target=job,
            data={"range": byte_range} if byte_range else {},
        )


@transaction.atomic
def job_audio_consumed(*, job: SynthesisJob, request=None) -> bool:
    """A store=false job's audio was downloaded completely: delete it now (once).

    True when this call deleted it.
    """
    name, timings = job.audio.name, job.timings.name
    if job.store or not name:
        return False
    removed = SynthesisJob.objects.filter(pk=job.pk, store=False, audio=name).update(
        audio="",
        timings="",
        audio_bytes=0,
        audio_deleted_at=timezone.now(),
        audio_deleted_reason="downloaded",
    )
    if removed:
        transaction.on_commit(lambda: default_storage.delete(name))
        if timings:
            transaction.on_commit(lambda: default_storage.delete(timings))
        audit_record(
            action="synthesis.job.audio_deleted",
            request=request,
            user=job.owner,
            target=job,
            data={"reason": "downloaded", "store": False},
        )
    return bool(removed)


@transaction.atomic
def job_delete(*, job: SynthesisJob, user, request=None, api_key=None) -> None:
    """Remove a finished job from the history with its audio (ServiceError 409 while it runs)."""
    if not SynthesisJob.objects.filter(pk=job.pk, status__in=SynthesisJob.TERMINAL).exists():
        raise ServiceError(
            code="job_not_finished",
            message="The job is still queued or running; cancel it first "
            "(POST /api/v1/synthesis/{id}/cancel), then delete it.",
        )
    name = job.audio.name
    audit_record(
        action="synthesis.job.deleted",
        request=request,
        user=user,
        api_key=api_key,
        target=job,
        data={"status": job.status, "had_audio": bool(name)},
    )
    timings = job.timings.name
    job.delete()
    if name:
        transaction.on_commit(lambda: default_storage.delete(name))
    if timings:
        transaction.on_commit(lambda: default_storage.delete(timings))


def job_timings(job: SynthesisJob) -> dict | None:
    """The job's timings document (synthesis.jobs.alignment): the stored one when the job was
    made with timestamps, else an estimate from its text and duration; None while it has no
    audio (not finished, failed, expired or downloaded with store=false)."""
    import json

    from synthesis.jobs.alignment import estimated_document
    from synthesis.jobs.joining import PARAGRAPH_PAUSE_MS
    from synthesis.jobs.text import normalize_text, split_text

    if job.status != SynthesisJob.Status.SUCCEEDED or not job.audio:
        return None
    if job.timings:
        try:
            with default_storage.open(job.timings.name, "rb") as stored:
                return json.loads(stored.read())
        except (OSError, ValueError):
            pass  # missing or damaged: the estimate below still makes captions
    from synthesis.jobs.checks import job_engine_facts

    try:  # the chunks the worker spoke (split_text is deterministic)
        limit = job_engine_facts(job).char_limit(job.language)
    except Exception:  # the voice or its engine is gone: one chunk per paragraph then
        limit = max(len(job.text), 1)
    chunks = split_text(job.text, language=job.language, limit=limit)
    pauses = [PARAGRAPH_PAUSE_MS / 1000 if c.paragraph_end else 0.0 for c in chunks]
    return estimated_document(
        chunks=chunks,
        normalized=normalize_text(job.text),
        duration=job.audio_seconds or 0.0,
        pauses=pauses,
    )


def batch_archive_downloaded(*, batch: SynthesisBatch, user, request=None, api_key=None):
    audit_record(
        action="synthesis.batch.downloaded",
        request=request,
        user=user,
        api_key=api_key,
        target=batch,
    )
