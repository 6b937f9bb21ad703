"""Batches: many texts requested at once, charged together, delivered as one zip.

The whole batch is charged in one reservation (all of it or none: one conditional UPDATE for
the total) and holds one concurrent-job slot, whatever its size. Each item is an ordinary job
that settles or refunds its own characters when it ends. When the last item ends, a task on the
default queue writes the zip (each succeeded item's audio plus manifest.json) and frees the
batch's slot.
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts import usage
from audit.models import AuditEvent
from audit.services import audit_record
from config.service_errors import ServiceError
from synthesis.jobs import checks as request_checks
from synthesis.jobs import services
from synthesis.models import SynthesisBatch, SynthesisJob
from synthesis.webhooks.services import batch_event, delivery_create, webhook_url_check

logger = logging.getLogger(__name__)

# Already-compressed formats are stored as they are; deflating them gains nothing.
_DEFLATE_FORMATS = {"wav", "pcm"}


def batch_create(
    *,
    owner,
    items: list[dict],
    webhook_url: str = "",
    request=None,
    api_key=None,
    idempotency_key: str = "",
) -> SynthesisBatch:
    """Accept a batch: validate every item, charge the total at once, queue every job.

    `items` are dicts with the keyword arguments of `services.job_create` that describe one
    text (voice, text, language, output_format, sample_rate, params, engine). Raises ServiceError
    (its message names the item: "items[3]: ..."), QuotaExceeded (audited), or ServiceError 409
    idempotency_key_reused. The batch has `idempotent_replay` like jobs do.
    """
    if not 1 <= len(items) <= settings.SYNTHESIS_BATCH_MAX_ITEMS:
        raise ServiceError(
            code="invalid_batch_size",
            message=f"A batch has 1 to {settings.SYNTHESIS_BATCH_MAX_ITEMS} items; this one has "
            f"{len(items)}.",
        )
    jobs = [_job_fields(owner, index, item) for index, item in enumerate(items)]
    if webhook_url:
        webhook_url = webhook_url_check(webhook_url)
    fingerprint = ""
    if idempotency_key:
        described = [{k: v for k, v in job.items() if k != "voice"} for job in jobs]
        fingerprint = request_checks.request_fingerprint(items=described, webhook_url=webhook_url)
    batch = SynthesisBatch(
        owner=owner,
        api_key=api_key,
        total_items=len(jobs),
        total_characters=sum(job["characters"] for job in jobs),
        webhook_url=webhook_url,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    try:
        return _batch_accept(batch, jobs, request=request)
    except usage.QuotaExceeded as exc:
        usage.quota_refusal_record(
            user=owner, exc=exc, request=request, api_key=api_key, what="synthesis batch"
        )
        raise


def _job_fields(owner, index: int, item: dict) -> dict:
    voice = item["voice"]
    try:
        checked = request_checks.request_checked(
            owner=owner,
            voice=voice,
            text=item.get("text", ""),
            language=item.get("language", ""),
            output_format=item.get("output_format", "mp3"),
            sample_rate=item.get("sample_rate"),
            params=item.get("params") or {},
            engine=item.get("engine") or "",
        )
    except ServiceError as exc:
        raise ServiceError(
            exc.code, f"items[{index}]: {exc.message}", details=exc.details
        ) from None
    return {
        "voice": voice,
        "voice_code": str(voice.code),
        "engine": checked.engine,
        "text": checked.text,
        "characters": len(checked.text),
        "language": checked.language,
        "output_format": checked.output_format,
        "sample_rate": checked.sample_rate,
        "params": checked.params.to_dict(),
    }


@transaction.atomic
def _batch_accept(batch: SynthesisBatch, jobs: list[dict], *, request) -> SynthesisBatch:
    owner = batch.owner
    if batch.idempotency_key and (earlier := _replay(batch)):
        return earlier
    usage.storage_check(user=owner)
    try:
        with transaction.atomic():
            month = usage.usage_reserve(
                user=owner, characters=batch.total_characters, api_key=batch.api_key
            )
            batch.holds_slot = True
            batch.save()
    except IntegrityError:
        if batch.idempotency_key and (earlier := _replay(batch)):
            return earlier
        raise
    created = [_job_add(batch, index, fields, month) for index, fields in enumerate(jobs)]
    batch.idempotent_replay = False
    audit_record(
        action="synthesis.batch.requested",
        request=request,
        user=owner,
        api_key=batch.api_key,
        target=batch,
        data={"items": batch.total_items, "characters": batch.total_characters},
    )
    for job in created:
        services.job_dispatch_on_commit(job)  # the outbox: each item records that its task went out
    return batch


def _job_add(batch: SynthesisBatch, index: int, fields: dict, month) -> SynthesisJob:
    fields = {k: v for k, v in fields.items() if k != "voice_code"}
    return SynthesisJob.objects.create(
        owner=batch.owner,
        api_key=batch.api_key,
        batch=batch,
        batch_index=index,
        quota_state=SynthesisJob.QuotaState.RESERVED,
        usage_month=month,
        holds_slot=False,  # the batch holds one slot for all of its items
        **fields,
    )


def _replay(batch: SynthesisBatch) -> SynthesisBatch | None:
    earlier = SynthesisBatch.objects.filter(
        owner=batch.owner, idempotency_key=batch.idempotency_key
    ).first()
    if earlier is None:
        return None
    if earlier.request_fingerprint != batch.request_fingerprint:
        raise request_checks.idempotency_conflict()
    earlier.idempotent_replay = True
    return earlier


# --- the end of a batch -------------------------------------------------------------------------
def batch_finish(*, batch_id: int) -> SynthesisBatch | None:
    """Package the batch if every item has ended (any worker may call it, any number of times:
    one conditional UPDATE lets exactly one of them build the zip)."""
    with transaction.atomic():
        if (
            SynthesisJob.objects.filter(batch_id=batch_id)
            .exclude(status__in=SynthesisJob.TERMINAL)
            .exists()
        ):
            return None
        if not SynthesisBatch.objects.filter(
            pk=batch_id, status=SynthesisBatch.Status.RUNNING
        ).update(status=SynthesisBatch.Status.PACKAGING):
            return None
        if SynthesisBatch.objects.filter(pk=batch_id, holds_slot=True).update(holds_slot=False):
            batch = SynthesisBatch.objects.get(pk=batch_id)
            usage.slot_release(user_id=batch.owner_id)
    batch = SynthesisBatch.objects.select_related("owner").get(pk=batch_id)
    try:
        archive_name = _write_archive(batch)
    except Exception as exc:  # the items are still there; say why the zip is missing
        logger.exception("Could not package batch %s", batch.code)
        _batch_ended(batch, archive_name="", error=f"The zip could not be written: {exc}")
    else:
        _batch_ended(batch, archive_name=archive_name, error="")
    batch.refresh_from_db()
    return batch


def _write_archive(batch: SynthesisBatch) -> str:
    jobs = list(batch.jobs.select_related("voice").order_by("batch_index"))
    manifest = {
        "batch": str(batch.code),
        "created_at": batch.created_at.isoformat(),
        "items": [],
    }
    with tempfile.TemporaryDirectory(prefix="timbre-batch-") as tmp:
        path = Path(tmp) / "batch.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for job in jobs:
                manifest["items"].append(_archive_item(archive, job))
            archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        with path.open("rb") as handle:
            batch.archive.save("batch.zip", File(handle), save=False)
    return batch.archive.name


def _archive_item(archive: zipfile.ZipFile, job: SynthesisJob) -> dict:
    from synthesis.jobs.encoding import FORMATS

    name = None
    if job.status == SynthesisJob.Status.SUCCEEDED and job.audio:
        name = f"{job.batch_index + 1:03d}-{job.code}.{FORMATS[job.output_format].extension}"
        info = zipfile.ZipInfo(name, date_time=job.finished_at.timetuple()[:6])
        if job.output_format in _DEFLATE_FORMATS:
            info.compress_type = zipfile.ZIP_DEFLATED
        # Copied in blocks: an item may be hours of audio.
        with job.audio.open("rb") as src, archive.open(info, "w") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    return {
        "index": job.batch_index,
        "id": str(job.code),
        "status": job.status,
        "file": name,
        "voice": str(job.voice.code) if job.voice else None,
        "language": job.language,
        "format": job.output_format,
        "sample_rate": job.sample_rate,
        "characters": job.characters,
        "audio_seconds": job.audio_seconds,
        "error": job.error or None,
        "text": job.text,
    }


@transaction.atomic
def _batch_ended(batch: SynthesisBatch, *, archive_name: str, error: str) -> None:
    from accounts.selectors import plan_for_user

    now = timezone.now()
    done = bool(archive_name)
    SynthesisBatch.objects.filter(pk=batch.pk, status=SynthesisBatch.Status.PACKAGING).update(
        status=SynthesisBatch.Status.DONE if done else SynthesisBatch.Status.FAILED,
        archive=archive_name,
        archive_bytes=services.stored_size(archive_name) if done else 0,
        error=error,
        finished_at=now,
        expires_at=now + timedelta(days=plan_for_user(batch.owner).retention_days),
    )
    batch.refresh_from_db()
    audit_record(
        action="synthesis.batch.completed" if done else "synthesis.batch.failed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=batch,
        data={"items": batch.total_items, "error": error}
        if error
        else {"items": batch.total_items},
    )
    if batch.webhook_url:
        delivery_create(
            owner=batch.owner, url=batch.webhook_url, event=batch_event(batch), batch=batch
        )


def batches_sweep(*, limit: int = 200) -> dict[str, int]:
    """The sweeper's share: a running batch whose items have all ended but whose packaging
    message was lost (broker down, worker killed) is packaged now."""
    open_items = SynthesisJob.objects.filter(batch_id=OuterRef("pk")).exclude(
        status__in=SynthesisJob.TERMINAL
    )
    stuck = (
        SynthesisBatch.objects.filter(status=SynthesisBatch.Status.RUNNING)
        .exclude(Exists(open_items))
        .values_list("pk", flat=True)
    )
    finished = 0
    for batch_id in list(stuck[:limit]):
        finished += batch_finish(batch_id=batch_id) is not None
    return {"packaged": finished}
