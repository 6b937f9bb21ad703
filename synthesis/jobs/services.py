"""Synthesis jobs: request, cancel, and run (the worker side). Every change is audited.

Quotas (accounts.usage): `job_create` reserves the job's characters and a concurrent-job slot
in the request's transaction; the job's end settles them (success) or refunds them (failure,
cancel) exactly once, guarded by the job's `quota_state` moving out of `reserved` in one
conditional UPDATE. Webhooks (synthesis.webhooks) and batch packaging (synthesis.batches) are
queued on commit when a job ends.
"""

from __future__ import annotations

import logging
import os
import socket
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
    bitrate: int | None = None,
    timestamps: bool = False,
    engine: str = "",
) -> SynthesisJob:
    """Accept a synthesis request, charge it and queue it once the transaction commits.

    `voice` must be the owner's or a stock voice (else Voice.DoesNotExist) and ready. With
    `stream=True` the worker also pushes audio to the job's stream channel while it is
    generated (read it with `synthesis.jobs.streaming.stream_encoded`). `api_key` (the request's
    key, if any) is charged against its monthly_character_cap and named in the audit log.
    `webhook_url` gets a signed POST when the job succeeds or fails; `store=False` deletes the
    audio after its first complete download. `bitrate` (bits/s, mp3/aac/opus) is kept on the
    job and used for its stored file; None: the format's default. `engine` (an engine name or
    model id; "": the default, see checks.job_engine_resolve) chooses the engine that speaks it,
    among those the voice is built for (else ServiceError 400 model_not_available); the job
    records it and goes to that engine's queue.

    Raises ServiceError with a code for bad input (empty_text, text_too_long,
    unsupported_language, unsupported_format, unsupported_sample_rate, unsupported_bitrate,
    invalid_parameters, voice_not_ready, invalid_webhook_url); accounts.usage.QuotaExceeded (a
    ServiceError: 402 quota_exceeded / key_quota_exceeded / storage_exceeded, 429
    concurrent_jobs_exceeded), audited as accounts.quota.refused; ServiceError 409
    idempotency_key_reused.

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
        bitrate=bitrate,
        engine=engine,
    )
    if webhook_url:
        webhook_url = webhook_url_check(webhook_url)
    fields = {
        "owner": owner,
        "voice": voice,
        "engine": checked.engine,
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
    if checked.bitrate is not None:  # only when asked, so earlier requests' fingerprints hold
        fields["bitrate"] = checked.bitrate
    if timestamps:  # character/word timings stored with the audio (synthesis.jobs.alignment)
        fields["timestamps"] = True
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
    job_dispatch_on_commit(job)
    return job


# --- the outbox: a job row records whether its task reached the broker ---------------------
def _job_engine(job: SynthesisJob) -> str:
    """The engine whose queue the job goes to: the one it was accepted for (old jobs: the
    voice's)."""
    from synthesis.jobs.checks import voice_engine

    if job.engine:
        return job.engine
    try:
        return voice_engine(job.voice).name if job.voice else ""
    except Exception:  # an engine no longer installed: the plain synthesis queue
        return ""


def _dispatched(job: SynthesisJob):
    def then(sent: bool) -> None:
        if sent is False:
            # Seen by a caller that waits for audio (a stream): nothing will come, say so now.
            job.dispatch_failed = True
        else:  # None: a test double that sent nothing but did not fail either
            SynthesisJob.objects.filter(pk=job.pk).update(dispatched_at=timezone.now())

    return then


def job_dispatch_on_commit(job: SynthesisJob) -> None:
    """Send the job's task once the transaction commits, and record that it went out. When the
    broker is down the job stays queued and unsent (202 all the same): the outbox sweeper
    (`synthesis.jobs.recovery`) sends it once the broker is back."""
    task_send_on_commit(
        "synthesis.tasks.synthesize",
        then=_dispatched(job),
        job_id=job.pk,
        engine=_job_engine(job),
    )


def _replay(owner, key: str, fingerprint: str) -> SynthesisJob | None:
    earlier = SynthesisJob.objects.filter(owner=owner, idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.request_fingerprint != fingerprint:
        raise idempotency_conflict()
    earlier.idempotent_replay = True
    return earlier


@transaction.atomic
def job_cancel(
    *, job: SynthesisJob, user, request=None, api_key=None, actor_type: str | None = None
) -> SynthesisJob:
    """Cancel a queued job at once (refunding it); ask a running one to stop after its current
    chunk (refunded when it stops). ServiceError `job_finished` when it already ended."""
    now = timezone.now()
    # A queued job, or a running one whose worker went silent (crashed): cancelled at once.
    if SynthesisJob.objects.filter(
        Q(pk=job.pk) & (Q(status=SynthesisJob.Status.QUEUED) | _abandoned(now))
    ).update(status=SynthesisJob.Status.CANCELLED, cancel_requested=True, finished_at=now):
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
        actor_type=actor_type,
        target=job,
        data={"status": job.status},
    )
    return job


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def job_claim(*, job_id: int, worker: str) -> SynthesisJob | None:
    """Take a queued job, or a running one whose worker is gone; None if not ours to run.

    A running job is taken over when its heartbeat is older than SYNTHESIS_STALE_SECONDS, or at
    once when the process that ran it was on this host and is dead (a pool process killed and
    the message redelivered here). One conditional UPDATE decides, so two deliveries of the
    same task never both run it. A job interrupted SYNTHESIS_MAX_ATTEMPTS times ends failed
    (refunded) instead of running again.
    """
    now = timezone.now()
    host, pid = socket.gethostname(), os.getpid()
    takeover = _abandoned(now)
    current = (
        SynthesisJob.objects.filter(pk=job_id, status=SynthesisJob.Status.RUNNING)
        .values("worker_host", "worker_pid", "heartbeat_at")
        .first()
    )
    if (
        current
        and current["worker_host"] == host
        and current["worker_pid"] != pid
        and not _process_alive(current["worker_pid"])
    ):
        # Its process on this host is dead: the heartbeat it left is no reason to wait.
        takeover |= Q(
            status=SynthesisJob.Status.RUNNING,
            worker_host=host,
            worker_pid=current["worker_pid"],
            heartbeat_at=current["heartbeat_at"],
        )
    if job_interrupted_too_often(job_id=job_id, running=takeover):
        return None
    claimed = (
        SynthesisJob.objects.filter(pk=job_id)
        .filter(Q(status=SynthesisJob.Status.QUEUED) | takeover)
        .update(
            status=SynthesisJob.Status.RUNNING,
            worker=worker,
            worker_host=host,
            worker_pid=pid,
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
            chunks_done=0,
            progress=0.0,
        )
    )
    return SynthesisJob.objects.select_related("voice", "owner").get(pk=job_id) if claimed else None


INTERRUPTED_MESSAGE = (
    "The job was interrupted {attempts} times because its worker stopped (a crash or a restart). "
    "It was stopped and your characters were refunded; try again, and tell the operator if it "
    "keeps happening."
)


@transaction.atomic
def job_interrupted_too_often(*, job_id: int, running: Q | None = None) -> bool:
    """End a job whose worker died after it had already been started SYNTHESIS_MAX_ATTEMPTS
    times: failed, refunded. `running` narrows which running jobs count as abandoned (default:
    a stale heartbeat). True when this call ended it."""
    if running is None:
        running = _abandoned()
    limit = settings.SYNTHESIS_MAX_ATTEMPTS
    row = SynthesisJob.objects.filter(pk=job_id).values("attempts").first()
    if row is None or row["attempts"] < limit:
        return False
    error = INTERRUPTED_MESSAGE.format(attempts=row["attempts"])
    ended = (
        SynthesisJob.objects.filter(Q(pk=job_id, attempts__gte=limit) & running)
        .filter(quota_state__in=[SynthesisJob.QuotaState.RESERVED, SynthesisJob.QuotaState.NONE])
        .update(status=SynthesisJob.Status.FAILED, error=error, finished_at=timezone.now())
    )
    if not ended:
        return False
    job = SynthesisJob.objects.select_related("owner").get(pk=job_id)
    _job_ended(job, refund=True, event="synthesis.job.failed")
    audit_record(
        action="synthesis.job.failed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=job,
        data={"error": error, "attempts": job.attempts},
    )
    job_stream_end_on_commit(job, error=error)
    return True


def job_heartbeat(*, job: SynthesisJob) -> bool:
    """Say this worker is still on the job (called from a thread, every
    SYNTHESIS_HEARTBEAT_SECONDS); False when the job is no longer this worker's."""
    return bool(
        SynthesisJob.objects.filter(
            pk=job.pk,
            status=SynthesisJob.Status.RUNNING,
            worker=job.worker,
            worker_pid=job.worker_pid,
        ).update(heartbeat_at=timezone.now())
    )


def job_progress(*, job: SynthesisJob, chunks_done: int) -> bool:
    """Save progress; False when the job was cancelled or taken over (stop working on it)."""
    total = max(job.chunks_total, 1)
    updated = SynthesisJob.objects.filter(
        pk=job.pk,
        status=SynthesisJob.Status.RUNNING,
        worker=job.worker,
        worker_pid=job.worker_pid,
        cancel_requested=False,
    ).update(
        chunks_done=chunks_done, progress=min(chunks_done / total, 1.0), heartbeat_at=timezone.now()
    )
    return bool(updated)


@transaction.atomic
def job_finish_cancelled(*, job: SynthesisJob) -> bool:
    """The worker stopped a job whose cancel was requested: refund it. False when the job was
    not this worker's any more (taken over, or already ended)."""
    stopped = SynthesisJob.objects.filter(
        pk=job.pk, worker=job.worker, worker_pid=job.worker_pid, status=SynthesisJob.Status.RUNNING
    ).update(status=SynthesisJob.Status.CANCELLED, finished_at=timezone.now())
    if not stopped:
        return False
    _job_stopped(job)
    return True


def _job_stopped(job: SynthesisJob, **data) -> None:
    """A running job that ended cancelled: refund it and audit the stop."""
    job.refresh_from_db()
    _job_ended(job, refund=True)
    audit_record(
        action="synthesis.job.stopped",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=job,
        data={"chunks_done": job.chunks_done, **data},
    )


@transaction.atomic
def job_fail(*, job: SynthesisJob, error: str, compute_seconds: float | None = None) -> bool:
    """The job failed with a message for the user: refund it and tell its webhook. False when
    the job was not this worker's any more."""
    failed = SynthesisJob.objects.filter(
        pk=job.pk, worker=job.worker, worker_pid=job.worker_pid, status=SynthesisJob.Status.RUNNING
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
        pk=job.pk, worker=job.worker, worker_pid=job.worker_pid, status=SynthesisJob.Status.RUNNING
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
    except Exception:  # OSError, NotImplementedError, or a botocore error on S3
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


# --- recovery (the outbox sweeper, synthesis.jobs.recovery) --------------------------------
def _abandoned(now=None) -> Q:
    stale = (now or timezone.now()) - timedelta(seconds=settings.SYNTHESIS_STALE_SECONDS)
    return Q(status=SynthesisJob.Status.RUNNING) & (
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True)
    )


def job_dispatch_now(job: SynthesisJob) -> bool:
    """Send a queued job's task now (the sweeper); True when the broker took it."""
    from config import queueing

    sent = queueing.task_send("synthesis.tasks.synthesize", job_id=job.pk, engine=_job_engine(job))
    if sent is not False:
        SynthesisJob.objects.filter(pk=job.pk).update(dispatched_at=timezone.now())
    return sent is not False


@transaction.atomic
def job_recover_abandoned(*, job_id: int) -> str:
    """A running job whose worker went silent: cancel it (if asked), fail it (interrupted too
    often) or put it back in the queue. Returns what happened ('' when it was not abandoned)."""
    job = SynthesisJob.objects.select_for_update().filter(_abandoned(), pk=job_id).first()
    if job is None:
        return ""
    if job.cancel_requested:
        SynthesisJob.objects.filter(pk=job.pk).update(
            status=SynthesisJob.Status.CANCELLED, finished_at=timezone.now()
        )
        _job_stopped(job, worker_lost=True)
        job_stream_end_on_commit(job, error="The job was cancelled.")
        return "cancelled"
    if job_interrupted_too_often(job_id=job.pk):
        return "failed"
    SynthesisJob.objects.filter(pk=job.pk).update(
        status=SynthesisJob.Status.QUEUED, worker="", worker_pid=None, dispatched_at=None
    )
    audit_record(
        action="synthesis.job.requeued",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=job,
        data={"worker": job.worker, "attempts": job.attempts},
    )
    job_dispatch_on_commit(job)
    return "requeued"


NEVER_STARTED_MESSAGE = (
    "No synthesis worker took this job within {hours:g} hours, so it was stopped and your "
    "characters were refunded. The operator has been told through the logs; try again later."
)


@transaction.atomic
def job_expire_queued(*, job_id: int) -> bool:
    """A job that waited past SYNTHESIS_QUEUED_MAX_SECONDS without a worker: failed, refunded."""
    limit = timezone.now() - timedelta(seconds=settings.SYNTHESIS_QUEUED_MAX_SECONDS)
    error = NEVER_STARTED_MESSAGE.format(hours=settings.SYNTHESIS_QUEUED_MAX_SECONDS / 3600)
    if not SynthesisJob.objects.filter(
        pk=job_id, status=SynthesisJob.Status.QUEUED, created_at__lt=limit
    ).update(status=SynthesisJob.Status.FAILED, error=error, finished_at=timezone.now()):
        return False
    job = SynthesisJob.objects.select_related("owner").get(pk=job_id)
    logger.error("Job %s expired in the queue: no synthesis worker took it", job.code)
    _job_ended(job, refund=True, event="synthesis.job.failed")
    audit_record(
        action="synthesis.job.failed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=job,
        data={"error": error},
    )
    job_stream_end_on_commit(job, error=error)
    return True
