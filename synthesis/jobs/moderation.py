"""What admins do to jobs (synthesis admin), and what a user's suspension does to their jobs.

Each change goes through the job services (jobs.services: cancel with refund, dispatch through
the outbox) and records one audit event, whose actor is the admin, in its transaction.
"""

from __future__ import annotations

from django.db import transaction

from accounts import usage
from audit.models import AuditEvent
from audit.services import audit_record
from config.service_errors import ServiceError
from synthesis.jobs.checks import voice_check
from synthesis.jobs.services import job_cancel, job_dispatch_on_commit
from synthesis.models import SynthesisJob

ACTIVE = (SynthesisJob.Status.QUEUED, SynthesisJob.Status.RUNNING)
RETRYABLE = (SynthesisJob.Status.FAILED, SynthesisJob.Status.CANCELLED)


def job_admin_cancel(*, job: SynthesisJob, admin_user, request=None) -> SynthesisJob:
    """Cancel a job from the admin: queued ones at once with a refund, running ones after their
    current chunk. ServiceError `job_finished`."""
    return job_cancel(
        job=job, user=admin_user, request=request, actor_type=AuditEvent.ActorType.ADMIN
    )


def jobs_cancel_for_user(*, user, admin_user=None, request=None) -> int:
    """Cancel every queued or running job of `user` (refunded); the number cancelled. Each
    cancel is its own transaction."""
    cancelled = 0
    for job in SynthesisJob.objects.filter(owner=user, status__in=ACTIVE).order_by("pk"):
        try:
            job_admin_cancel(job=job, admin_user=admin_user, request=request)
        except ServiceError:  # it ended meanwhile
            continue
        cancelled += 1
    return cancelled


def on_user_suspended(sender, *, user, admin_user=None, request=None, **kwargs) -> None:
    """accounts.moderation.user_suspended: the suspended user's jobs stop, refunded.

    After the suspension commits, each job in its own transaction: a suspension must not hold
    the audit chain's lock while it waits for job rows a worker holds (a deadlock on PostgreSQL).
    """
    transaction.on_commit(
        lambda: jobs_cancel_for_user(user=user, admin_user=admin_user, request=request),
        robust=True,
    )


@transaction.atomic
def job_retry(*, job: SynthesisJob, admin_user, request=None) -> SynthesisJob:
    """Queue a failed or cancelled job again, charged again against the owner's quota (refused
    like a new request when it is spent), and sent through the outbox on commit.

    ServiceError `job_not_retryable` (not failed/cancelled, or a batch item), `voice_not_found`,
    `voice_blocked`, `voice_not_ready`, `account_suspended`, and the quota refusals.
    """
    job = (
        SynthesisJob.objects.select_for_update(of=("self",))
        .select_related("owner", "voice", "api_key")
        .get(pk=job.pk)
    )
    if job.status not in RETRYABLE:
        raise ServiceError("job_not_retryable", f"Job {job.code} is {job.status}; not retried.")
    if job.batch_id:
        raise ServiceError("job_not_retryable", "Items of a batch are not retried one by one.")
    if job.owner.suspended_at is not None or not job.owner.is_active:
        raise ServiceError("account_suspended", f"{job.owner} is suspended or inactive.")
    if job.voice is None:
        raise ServiceError("voice_not_found", "The job's voice was deleted.")
    voice_check(owner=job.owner, voice=job.voice)
    usage.storage_check(user=job.owner)
    month = usage.usage_reserve(user=job.owner, characters=job.characters, api_key=job.api_key)
    previous = {"status": job.status, "error": job.error[:500], "attempts": job.attempts}
    SynthesisJob.objects.filter(pk=job.pk).update(
        status=SynthesisJob.Status.QUEUED,
        quota_state=SynthesisJob.QuotaState.RESERVED,
        usage_month=month,
        holds_slot=True,
        stream=False,  # nobody is reading a retried job's stream
        cancel_requested=False,
        error="",
        attempts=0,
        worker="",
        worker_host="",
        worker_pid=None,
        heartbeat_at=None,
        dispatched_at=None,
        started_at=None,
        finished_at=None,
        progress=0.0,
        chunks_done=0,
    )
    job.refresh_from_db()
    audit_record(
        action="synthesis.job.retried",
        request=request,
        user=admin_user,
        actor_type=AuditEvent.ActorType.ADMIN,
        target=job,
        data={"previous": previous, "characters": job.characters},
    )
    job_dispatch_on_commit(job)
    return job
