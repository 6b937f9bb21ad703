"""Reads for the synthesis app. Jobs, batches and deliveries are their owner's alone: anyone
else gets a 404 (never a 403), and every queryset a user reaches is filtered in `_own`."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet, Sum
from django.shortcuts import get_object_or_404

from synthesis.models import SynthesisBatch, SynthesisJob, WebhookDelivery


def _own(queryset: QuerySet, user) -> QuerySet:
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    return queryset.filter(owner=user)


def job_list(*, user, voice=None, status=None, created_after=None, created_before=None) -> QuerySet:
    """The user's jobs, newest first, with what the job output needs in the same query."""
    jobs = _own(SynthesisJob.objects.select_related("voice", "batch"), user)
    if voice is not None:
        jobs = jobs.filter(voice__code=voice)
    if status:
        jobs = jobs.filter(status=status)
    if created_after is not None:
        jobs = jobs.filter(created_at__gte=created_after)
    if created_before is not None:
        jobs = jobs.filter(created_at__lt=created_before)
    return jobs.order_by("-created_at", "-id")


def job_get(*, user, code) -> SynthesisJob:
    return get_object_or_404(
        _own(SynthesisJob.objects.select_related("voice", "batch", "owner"), user), code=code
    )


def _batches() -> QuerySet:
    items = SynthesisJob.objects.only(
        "id", "code", "batch_id", "batch_index", "status", "progress", "characters", "error"
    ).order_by("batch_index")
    return SynthesisBatch.objects.prefetch_related(Prefetch("jobs", queryset=items))


def batch_list(*, user) -> QuerySet:
    return _own(_batches(), user).order_by("-created_at", "-id")


def batch_get(*, user, code) -> SynthesisBatch:
    return get_object_or_404(_own(_batches().select_related("owner"), user), code=code)


def delivery_list(*, user, job=None) -> QuerySet:
    deliveries = _own(WebhookDelivery.objects.select_related("job", "batch"), user)
    if job is not None:
        deliveries = deliveries.filter(job__code=job)
    return deliveries.order_by("-created_at", "-id")


def delivery_get(*, user, code) -> WebhookDelivery:
    return get_object_or_404(
        _own(WebhookDelivery.objects.select_related("job", "batch"), user), code=code
    )


def stored_bytes(*, user) -> int:
    """Bytes of a user's kept job audio and batch archives (counts against plan storage)."""
    jobs = SynthesisJob.objects.filter(owner=user).exclude(audio="").aggregate(n=Sum("audio_bytes"))
    batches = (
        SynthesisBatch.objects.filter(owner=user)
        .exclude(archive="")
        .aggregate(n=Sum("archive_bytes"))
    )
    return (jobs["n"] or 0) + (batches["n"] or 0)
