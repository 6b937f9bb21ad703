"""Retention: stored outputs are deleted when their plan's retention_days have passed.

A job's (or batch's) `expires_at` is set when it succeeds, from the owner's plan at that time;
the sweep (synthesis.housekeeping.retention_sweep, run by celery beat) deletes the files whose
time has come and keeps the rows, so the history still says what was made and when.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from synthesis.models import SynthesisBatch, SynthesisJob

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def retention_sweep(*, now=None, limit: int = SWEEP_BATCH) -> dict:
    """Delete expired outputs (at most `limit` of each kind per run); return how many."""
    now = now or timezone.now()
    jobs = SynthesisJob.objects.filter(expires_at__lte=now).exclude(audio="")
    batches = SynthesisBatch.objects.filter(expires_at__lte=now).exclude(archive="")
    expired = {
        "jobs": sum(_job_expire(job, now) for job in jobs.order_by("expires_at")[:limit]),
        "batches": sum(_batch_expire(b, now) for b in batches.order_by("expires_at")[:limit]),
        "streams": _stale_streams_remove(),
    }
    if any(expired.values()):
        logger.info("Retention sweep: %s", expired)
    return expired


@transaction.atomic
def _job_expire(job: SynthesisJob, now) -> bool:
    name, timings = job.audio.name, job.timings.name
    removed = SynthesisJob.objects.filter(pk=job.pk, audio=name).update(
        audio="", timings="", audio_bytes=0, audio_deleted_at=now, audio_deleted_reason="expired"
    )
    if removed:
        transaction.on_commit(lambda: default_storage.delete(name))
        if timings:  # the timings describe the audio: they go with it
            transaction.on_commit(lambda: default_storage.delete(timings))
        audit_record(
            action="synthesis.job.audio_expired",
            actor_type=AuditEvent.ActorType.SYSTEM,
            target=job,
            data={"expires_at": job.expires_at.isoformat()},
        )
    return bool(removed)


@transaction.atomic
def _batch_expire(batch: SynthesisBatch, now) -> bool:
    name = batch.archive.name
    removed = SynthesisBatch.objects.filter(pk=batch.pk, archive=name).update(
        archive="", archive_bytes=0, archive_deleted_at=now
    )
    if removed:
        transaction.on_commit(lambda: default_storage.delete(name))
        audit_record(
            action="synthesis.batch.archive_expired",
            actor_type=AuditEvent.ActorType.SYSTEM,
            target=batch,
        )
    return bool(removed)


def _stale_streams_remove() -> int:
    """File stream channels nobody read (the client went away) are left behind; drop them."""
    from synthesis.jobs.streaming import CHANNEL_TTL_SECONDS

    root = Path(settings.DATA_DIR) / "streams"
    if not root.is_dir():
        return 0
    cutoff, removed = time.time() - CHANNEL_TTL_SECONDS, 0
    for folder in root.iterdir():
        try:
            stale = folder.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
