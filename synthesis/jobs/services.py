"""Synthesis jobs: request, cancel, and run (the worker side). Every change is audited.

Quotas (accounts.usage): `job_create` reserves the job's characters and a concurrent-job slot
in the request's transaction; the job's end settles them (success) or refunds them (failure,
cancel) exactly once, guarded by the job's `quota_state` moving out of `reserved` in one
conditional UPDATE. Webhooks (synthesis.webhooks) and batch packaging (synthesis.batches) are
queued on commit when a job ends.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import usage
from audit.models import AuditEvent
from audit.services import audit_record
from config.queueing import task_send_on_commit
from config.service_errors import ServiceError
from synthesis.jobs.checks import idempotency_conflict, request_checked, request_fingerprint
from synthesis.models import SynthesisJob
from synthesis.webhooks.services import delivery_create, webhook_url_check
from voices.models import Voice

logger = logging.getLogger(__name__)


def job_create(
    *,
    owner,
    voice: Voice,
    text: str,
    language: str = "",
    output_format: str = "mp3",
    sample_rate: int | None = None,
    params: dict | None = None,
    stream: bool = False,
    request=None,
    api_key=None,
    webhook_url: str = "",
    store: bool = True,
    idempotency_key: str = "",
) -> SynthesisJob:
    """Accept a synthesis request, charge it and queue it once the transaction commits.

    `voice` must be the owner's or a stock voice (else Voice.DoesNotExist) and ready. With
    `stream=True` the worker also pushes audio to the job's stream channel while it is
    generated (read it with `synthesis.jobs.streaming.stream_encoded`). `api_key` (the request's
    key, if any) is charged against its monthly_character_cap and named in the audit log.
    `webhook_url` gets a signed POST when the job succeeds or fails; `store=False` deletes the
    audio after its first complete download.

    Raises ServiceError with a code for bad input (empty_text, text_too_long,
    unsupported_language, unsupported_format, unsupported_sample_rate, invalid_parameters,
    voice_not_ready, invalid_webhook_url); accounts.usage.QuotaExceeded (a ServiceError: 402
    quota_exceeded / key_quota_exceeded / storage_exceeded, 429 concurrent_jobs_exceeded),
    audited as accounts.quota.refused; ServiceError 409 idempotency_key_reused.

    With an `idempotency_key` a repeated request returns the job the first one made, charged
    once; that job has `idempotent_replay = True` (a new job has it False).
    """
    checked = request_checked(
        owner=owner,
        voice=voice,
        text=text,
        language=language,
        output_format=output_format,
        sample_rate=sample_rate,
        params=params,
    )
    if webhook_url:
        webhook_url = webhook_url_check(webhook_url)
    fields = {
        "owner": owner,
        "voice": voice,
        "text": checked.text,
        "characters": len(checked.text),
        "language": checked.language,
        "output_format": checked.output_format,
        "sample_rate": checked.sample_rate,
        "params": checked.params.to_dict(),
        "stream": stream,
        "webhook_url": webhook_url,
        "store": store,
        "api_key": api_key,
    }
    if idempotency_key:
        fields["idempotency_key"] = idempotency_key
        fields["request_fingerprint"] = request_fingerprint(
            **{k: v for k, v in fields.items() if k not in ("owner", "api_key")},
            voice_code=voice.code,
        )
    try:
        return _job_accept(fields, request=request)
    except usage.QuotaExceeded as exc:
        usage.quota_refusal_record(
            user=owner, exc=exc, request=request, api_key=api_key, what="synthesis"
        )
        raise


@transaction.atomic
def _job_accept(fields: dict, *, request) -> SynthesisJob:
    owner, key = fields["owner"], fields.get("idempotency_key")
    if key and (earlier := _replay(owner, key, fields["request_fingerprint"])):
        return earlier
    usage.storage_check(user=owner)
    try:
        with transaction.atomic():  # a savepoint: a duplicate key also undoes the reservation
            month = usage.usage_reserve(
                user=owner, characters=fields["characters"], api_key=fields["api_key"]
            )
            job = SynthesisJob.objects.create(
                **fields,
                quota_state=SynthesisJob.QuotaState.RESERVED,
                usage_month=month,
                holds_slot=True,
            )
    except IntegrityError:
        # The same key from a concurrent request that committed first: answer with its job.
        if key and (earlier := _replay(owner, key, fields["request_fingerprint"])):
            return earlier
        raise
    job.idempotent_replay = False
    audit_record(
        action="synthesis.job.requested",
        request=request,
        user=owner,
        api_key=fields["api_key"],
        target=job,
        data={"characters": job.characters, "voice": str(job.voice.code), "stream": job.stream},
    )
    task_send_on_commit("synthesis.tasks.synthesize", job_id=job.pk)
    return job


def _replay(owner, key: str, fingerprint: str) -> SynthesisJob | None:
    earlier = SynthesisJob.objects.filter(owner=owner, idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.request_fingerprint != fingerprint:
        raise idempotency_conflict()
    earlier.idempotent_replay = True
    return earlier


@transaction.atomic
def job_cancel(*, job: SynthesisJob, user, request=None, api_key=None) -> SynthesisJob:
    """Cancel a queued job at once (refunding it); ask a running one to stop after its current
    chunk (refunded when it stops). ServiceError `job_finished` when it already ended."""
    now = timezone.now()
    if SynthesisJob.objects.filter(pk=job.pk, status=SynthesisJob.Status.QUEUED).update(
        status=SynthesisJob.Status.CANCELLED, cancel_requested=True, finished_at=now
    ):
        job.refresh_from_db()
        _job_ended(job, refund=True)
        job_stream_end_on_commit(job, error="The job was cancelled.")
    elif not SynthesisJob.objects.filter(pk=job.pk, status=SynthesisJob.Status.RUNNING).update(
        cancel_requested=True
    ):
        job.refresh_from_db()
        raise ServiceError(
            code="job_finished",
            message=f"The job has already {job.status}.",
        )
    job.refresh_from_db()
    audit_record(
        action="synthesis.job.cancelled",
        request=request,
        user=user,
        api_key=api_key,
        target=job,
        data={"status": job.status},
    )
    return job


def job_claim(*, job_id: int, worker: str) -> SynthesisJob | None:
    """Take a queued job, or a running one whose worker went silent; None if not ours to run.

    One conditional UPDATE decides, so two deliveries of the same task never both run it.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SYNTHESIS_STALE_SECONDS)
    claimed = (
        SynthesisJob.objects.filter(pk=job_id)
        .filter(
            Q(status=SynthesisJob.Status.QUEUED)
            | Q(status=SynthesisJob.Status.RUNNING, heartbeat_at__lt=stale)
        )
        .update(
            status=SynthesisJob.Status.RUNNING,
            worker=worker,
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
            chunks_done=0,
            progress=0.0,
        )
    )
    return SynthesisJob.objects.select_related("voice", "owner").get(pk=job_id) if claimed else None


def job_progress(*, job: SynthesisJob, chunks_done: int) -> bool:
    """Save progress; False when the job was cancelled or taken over (stop working on it)."""
    total = max(job.chunks_total, 1)
    updated = SynthesisJob.objects.filter(
        pk=job.pk, status=SynthesisJob.Status.RUNNING, worker=job.worker, cancel_requested=False
    ).update(
        chunks_done=chunks_done, progress=min(chunks_done / total, 1.0), heartbeat_at=timezone.now()
    )
    return bool(updated)


@transaction.atomic
def job_finish_cancelled(*, job: SynthesisJob) -> bool:
    """The worker stopped a job whose cancel was requested: refund it. False when the job was
    not this worker's any more (taken over, or already ended)."""
    stopped = SynthesisJob.objects.filter(
        pk=job.pk, worker=job.worker, status=SynthesisJob.Status.RUNNING
    ).update(status=SynthesisJob.Status.CANCELLED, finished_at=timezone.now())
    if not stopped:
        return False
    job.refresh_from_db()
    _job_ended(job, refund=True)
    audit_record(
        action="synthesis.job.stopped",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=job,
        data={"chunks_done": job.chunks_done},
    )
    return True


@transaction.atomic
def job_fail(*, job: SynthesisJob, error: str, compute_seconds: float | None = None) -> bool:
    """The job failed with a message for the user: refund it and tell its webhook. False when
    the job was not this worker's any more."""
    failed = SynthesisJob.objects.filter(
        pk=job.pk, worker=job.worker, status=SynthesisJob.Status.RUNNING
    ).update(
        status=SynthesisJob.Status.FAILED,
        error=error,
        finished_at=timezone.now(),
        compute_seconds=compute_seconds,
    )
    if not failed:
        return False
    job.refresh_from_db()
    _job_ended(job, refund=True, event="synthesis.job.failed")
    audit_record(
        action="synthesis.job.failed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=job,
        data={"error": error},
    )
    return True


@transaction.atomic
def job_succeed(
    *, job: SynthesisJob, audio_name: str, audio_seconds: float, compute_seconds: float
) -> bool:
    """Store the result, settle the charge, start the retention clock, tell the webhook.

    False when the job is no longer this worker's to finish (cancelled at the very end).
    """
    from accounts.selectors import plan_for_user

    now = timezone.now()
    retention = timedelta(days=plan_for_user(job.owner).retention_days)
    done = SynthesisJob.objects.filter(
        pk=job.pk, worker=job.worker, status=SynthesisJob.Status.RUNNING
    ).update(
        status=SynthesisJob.Status.SUCCEEDED,
        audio=audio_name,
        audio_bytes=stored_size(audio_name),
        progress=1.0,
        chunks_done=job.chunks_total,
        audio_seconds=audio_seconds,
        compute_seconds=compute_seconds,
        finished_at=now,
        expires_at=now + retention,
    )
    if done:
        job.refresh_from_db()
        _job_ended(job, refund=False, event="synthesis.job.succeeded")
        audit_record(
            action="synthesis.job.completed",
            actor_type=AuditEvent.ActorType.SYSTEM,
            target=job,
            data={
                "audio_seconds": round(audio_seconds, 3),
                "compute_seconds": round(compute_seconds, 3),
            },
        )
    return bool(done)


def stored_size(name: str) -> int:
    from django.core.files.storage import default_storage

    try:
        return default_storage.size(name)
    except (OSError, NotImplementedError):
        return 0


# --- the end of a job: quota, webhook, batch ------------------------------------------------
def _job_ended(job: SynthesisJob, *, refund: bool, event: str = "") -> None:
    """Everything a job's end sets off; called once, by whoever moved it to a terminal state."""
    if refund:
        job_refund_quota(job=job)
    else:
        job_settle_quota(job=job)
    if event and job.webhook_url:
        delivery_create(owner=job.owner, url=job.webhook_url, event=event, job=job)
    if job.batch_id:
        task_send_on_commit("synthesis.housekeeping.batch_finish", batch_id=job.batch_id)


def job_settle_quota(*, job: SynthesisJob) -> bool:
    """Charge a finished job's reserved characters; False when already settled or refunded."""
    return _quota_end(job, SynthesisJob.QuotaState.SETTLED, usage.usage_settle)


def job_refund_quota(*, job: SynthesisJob) -> bool:
    """Give a failed or cancelled job's characters back; False when already done."""
    return _quota_end(job, SynthesisJob.QuotaState.REFUNDED, usage.usage_refund)


@transaction.atomic
def _quota_end(job: SynthesisJob, state: str, apply) -> bool:
    # The conditional UPDATE is the once-only guard: a second delivery finds nothing to move.
    moved = SynthesisJob.objects.filter(
        pk=job.pk, quota_state=SynthesisJob.QuotaState.RESERVED
    ).update(quota_state=state)
    if moved:
        apply(
            usage.Reservation(
                user_id=job.owner_id,
                month=job.usage_month,
                characters=job.characters,
                api_key_id=job.api_key_id,
                slot=job.holds_slot,
            )
        )
        job.quota_state = state
    return bool(moved)


def job_stream_end(job: SynthesisJob, *, error: str) -> None:
    """Tell a streaming reader the job ended without audio (it would otherwise wait)."""
    if job.stream:
        from synthesis.jobs.streaming import channel_for

        try:
            channel_for(str(job.code)).end(error=error)
        except Exception:  # a reader that is gone, or Redis down: the job's state still counts
            logger.warning("Could not end the stream of job %s", job.code, exc_info=True)


def job_stream_end_on_commit(job: SynthesisJob, *, error: str) -> None:
    if job.stream:
        transaction.on_commit(lambda: job_stream_end(job, error=error))
