"""What a webhook delivery says about a job or a batch: the same fields the API answers with
(`GET /api/v1/synthesis/{id}`, `GET /api/v1/synthesis/batch/{id}`), built here without the API
layer so that the webhook service depends only on models. A test holds the two shapes equal."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from synthesis.models import SynthesisBatch, SynthesisJob


def _url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def job_payload(job: SynthesisJob) -> dict:
    queued = (job.started_at - job.created_at).total_seconds() if job.started_at else None
    audio_url = timings = captions = None
    if job.status == SynthesisJob.Status.SUCCEEDED and job.audio:
        audio_url = _url(reverse("api-synthesis-audio", kwargs={"code": job.code}))
        captions = {
            fmt: _url(reverse(f"api-synthesis-captions-{fmt}", kwargs={"code": job.code}))
            for fmt in ("vtt", "srt")
        }
        if job.timestamps and job.timings:
            # The words can run to megabytes for a book: a delivery names where they are.
            timings = {"url": _url(reverse("api-synthesis-timings", kwargs={"code": job.code}))}
    return {
        "id": str(job.code),
        "status": job.status,
        "progress": job.progress,
        "chunks_done": job.chunks_done,
        "chunks_total": job.chunks_total,
        "voice": str(job.voice.code) if job.voice_id else None,
        "engine": job.engine_name,
        "model": job.model_id,
        "language": job.language,
        "format": job.output_format,
        "sample_rate": job.sample_rate,
        "parameters": job.params,
        "text_preview": job.text if len(job.text) <= 120 else job.text[:119] + "…",
        "stream": job.stream,
        "store": job.store,
        "webhook_url": job.webhook_url,
        "batch": str(job.batch.code) if job.batch_id else None,
        "cost": {"characters": job.characters, "state": job.quota_state},
        "durations": {
            "audio_seconds": job.audio_seconds,
            "compute_seconds": job.compute_seconds,
            "queued_seconds": queued,
        },
        "audio_url": audio_url,
        "timestamps": job.timestamps,
        "timings": timings,
        "captions": captions,
        "audio_bytes": job.audio_bytes,
        "audio_expires_at": _iso(job.expires_at),
        "audio_deleted": job.audio_deleted_reason or None,
        "error": job.error,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def batch_payload(batch: SynthesisBatch) -> dict:
    jobs = sorted(batch.jobs.all(), key=lambda job: job.batch_index or 0)
    counts = dict.fromkeys(SynthesisJob.Status.values, 0)
    for job in jobs:
        counts[job.status] += 1
    archive_url = None
    if batch.status == SynthesisBatch.Status.DONE and batch.archive:
        archive_url = _url(reverse("api-synthesis-batch-archive", kwargs={"code": batch.code}))
    return {
        "id": str(batch.code),
        "status": batch.status,
        "total_items": batch.total_items,
        "total_characters": batch.total_characters,
        "counts": counts,
        "items": [
            {
                "index": job.batch_index,
                "id": str(job.code),
                "status": job.status,
                "progress": job.progress,
                "characters": job.characters,
                "error": job.error,
            }
            for job in jobs
        ],
        "archive_url": archive_url,
        "archive_bytes": batch.archive_bytes,
        "archive_expires_at": _iso(batch.expires_at),
        "webhook_url": batch.webhook_url,
        "error": batch.error,
        "created_at": _iso(batch.created_at),
        "finished_at": _iso(batch.finished_at),
    }
