"""The outbox sweeper: every accepted request ends, charged at most once (beat, default queue).

Each run, for synthesis jobs:
1. a running job whose heartbeat is older than SYNTHESIS_STALE_SECONDS lost its worker (a
   killed process or host): it is cancelled if a cancel was asked, failed with a refund after
   SYNTHESIS_MAX_ATTEMPTS starts, or put back in the queue and sent again;
2. a queued job older than SYNTHESIS_QUEUED_MAX_SECONDS fails with a refund (no worker);
3. a queued job whose task never reached the broker (broker down when it was accepted) is sent,
   and one sent more than SYNTHESIS_REDISPATCH_SECONDS ago without being claimed is sent again
   (a lost message; a duplicate is harmless, the claim is one conditional UPDATE).
Then the same for sample intakes and voice builds (voices.services.recovery), and webhook
deliveries whose attempt message was lost (synthesis.webhooks.services.deliveries_resend).

So a job ends within SYNTHESIS_QUEUED_MAX_SECONDS of acceptance if no worker ever runs it, and
otherwise within SYNTHESIS_MAX_ATTEMPTS x (run time + SYNTHESIS_STALE_SECONDS +
OUTBOX_SWEEP_SECONDS) of its first start (deploy/SCALING.md, "Recovery bounds").
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from synthesis.jobs import services
from synthesis.models import SynthesisJob
from synthesis.webhooks import services as webhooks
from voices.services import recovery as voices_recovery

logger = logging.getLogger(__name__)

BATCH = 500  # rows per kind per run; the next run takes the rest


def jobs_sweep() -> dict[str, int]:
    now = timezone.now()
    counts = {"requeued": 0, "failed": 0, "cancelled": 0, "expired": 0, "sent": 0}
    abandoned = SynthesisJob.objects.filter(services._abandoned(now)).values_list("pk", flat=True)
    for job_id in list(abandoned[:BATCH]):
        outcome = services.job_recover_abandoned(job_id=job_id)
        if outcome:
            counts[outcome] += 1
    expired_before = now - timedelta(seconds=settings.SYNTHESIS_QUEUED_MAX_SECONDS)
    expired = SynthesisJob.objects.filter(
        status=SynthesisJob.Status.QUEUED, created_at__lt=expired_before
    ).values_list("pk", flat=True)
    for job_id in list(expired[:BATCH]):
        counts["expired"] += services.job_expire_queued(job_id=job_id)
    grace = now - timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
    resend = now - timedelta(seconds=settings.SYNTHESIS_REDISPATCH_SECONDS)
    unsent = SynthesisJob.objects.filter(status=SynthesisJob.Status.QUEUED).filter(
        Q(dispatched_at__isnull=True, created_at__lt=grace) | Q(dispatched_at__lt=resend)
    )
    for job in unsent.select_related("voice").order_by("created_at")[:BATCH]:
        if not services.job_dispatch_now(job):
            break  # the broker is still down: the next run tries again
        counts["sent"] += 1
    return counts


def outbox_sweep() -> dict[str, dict[str, int]]:
    result = {
        "jobs": jobs_sweep(),
        **voices_recovery.voices_sweep(),
        "webhooks": {"sent": webhooks.deliveries_resend()},
    }
    if any(n for kind in result.values() for n in kind.values()):
        logger.info("Outbox sweep: %s", result)
    return result
