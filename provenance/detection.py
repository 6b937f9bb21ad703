""" "Was this made here?": the watermark, content credentials and registry of one audio file.

The web process has no torch, so it stores the upload under a generated name, queues
`provenance.tasks.detect_run` on the `audio` queue (where untrusted uploads are decoded) and
waits for the verdict, which the worker leaves in the cache (Redis across hosts; on the
single-machine defaults the file cache in the data directory). No worker in time: 503.

The worker reads the upload through the sample intake's probe (same demuxers, codecs, channel,
rate and length checks, in a resource-limited ffprobe), decodes it once in a resource-limited
ffmpeg at Perth's rate, asks Perth for its confidence, reads a C2PA manifest when the format can
hold one, and looks the audio up in the generation registry.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage

from config.queueing import task_send
from config.service_errors import ServiceError
from voices.audio.probe import (
    IntakeError,
    ProbeResult,
    check_not_truncated,
    input_args,
    probe,
    run_limited,
)

logger = logging.getLogger(__name__)

RESULT_KEY = "timbre:provenance:detect:{}"
RESULT_TTL_SECONDS = 600
UPLOAD_DIR = "provenance/checks"
_POLL_SECONDS = 0.2
# Perth's working rate; the decode goes straight there.
DETECT_SAMPLE_RATE = 32_000


class DetectUnavailable(ServiceError):
    """No audio worker answered in time (or the broker is down): the API answers 503."""

    def __init__(self, message: str):
        super().__init__(code="detect_unavailable", message=message)


# --- web side ------------------------------------------------------------------------------------
def detect_submit(*, upload, max_bytes: int) -> dict:
    """The worker's verdict on `upload` (a Django UploadedFile):
    {"watermarked", "confidence", "c2pa", "matches": [{"record_id", "score"}], ...}.

    Raises ServiceError with an intake code (not_audio, too_long, ...) for a file the sample
    intake would refuse, or DetectUnavailable.
    """
    check = uuid.uuid4().hex
    name = default_storage.save(f"{UPLOAD_DIR}/{check}.upload", upload)
    try:
        if not task_send(
            "provenance.tasks.detect_run", check=check, upload_name=name, max_bytes=max_bytes
        ):
            raise DetectUnavailable(
                "The job queue cannot be reached right now; try again in a moment."
            )
        result = _result_wait(
            check, deadline=time.monotonic() + settings.PROVENANCE_DETECT_WAIT_SECONDS
        )
    finally:
        default_storage.delete(name)  # never kept: it is someone's audio
    if not result.get("ok"):
        raise ServiceError(code=result["code"], message=result["message"])
    return result


def _result_wait(check: str, *, deadline: float) -> dict:
    key = RESULT_KEY.format(check)
    while True:
        result = cache.get(key)
        if result is not None:
            cache.delete(key)
            return result
        if time.monotonic() > deadline:
            raise DetectUnavailable(
                "No audio worker checked the file in time; try again. If it keeps happening, "
                "the operator must start one (celery -A config worker -Q audio)."
            )
        time.sleep(_POLL_SECONDS)


# --- worker side ---------------------------------------------------------------------------------
def detect_run(*, check: str, upload_name: str, max_bytes: int) -> None:
    """Check the stored upload and leave the verdict where detect_submit waits for it."""
    cache.set(
        RESULT_KEY.format(check),
        detect_stored(upload_name, max_bytes=max_bytes),
        RESULT_TTL_SECONDS,
    )


def detect_stored(name: str, *, max_bytes: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="timbre-detect-") as tmp:
        path = Path(tmp) / "upload"
        try:
            with default_storage.open(name, "rb") as source, path.open("wb") as target:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    target.write(chunk)
        except (FileNotFoundError, OSError):
            return {"ok": False, "code": "upload_gone", "message": "The upload was gone."}
        try:
            return {"ok": True, **detect_file(path, max_bytes=max_bytes)}
        except IntakeError as exc:
            if exc.detail:
                logger.info("Detect refused %s: %s (%s)", name, exc.code, exc.detail[-300:])
            return {"ok": False, "code": exc.code, "message": exc.message}
        except Exception:
            logger.exception("Checking %s failed", name)
            return {
                "ok": False,
                "code": "processing_failed",
                "message": "The file could not be checked because of an internal error.",
            }


def detect_file(path: Path, *, max_bytes: int) -> dict:
    """Watermark, credentials and registry matches of one local file (raises IntakeError)."""
    from provenance.credentials import READABLE_DEMUXERS, credentials_read
    from provenance.watermark import watermark_confidence

    max_seconds = settings.PROVENANCE_DETECT_MAX_SECONDS
    found = probe(path, max_bytes=max_bytes, max_seconds=max_seconds)
    audio = decode(path, found, max_seconds=max_seconds)
    confidence = watermark_confidence(audio, sample_rate=DETECT_SAMPLE_RATE)
    mime = READABLE_DEMUXERS.get(found.demuxer)
    return {
        "watermarked": confidence >= settings.PROVENANCE_WATERMARK_THRESHOLD,
        "confidence": round(confidence, 4),
        "c2pa": credentials_read(path, mime=mime) if mime else None,
        "matches": _registry_matches(path),
        "duration_seconds": round(audio.size / DETECT_SAMPLE_RATE, 3),
    }


def decode(path: Path, found: ProbeResult, *, max_seconds: float) -> np.ndarray:
    """The first audio stream as mono float32 at DETECT_SAMPLE_RATE (resource-limited ffmpeg)."""
    cap = max_seconds + 1
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-threads", "1",
        "-t", f"{cap:.3f}", *input_args(path, demuxer=found.demuxer),
        "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(DETECT_SAMPLE_RATE), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    try:
        done = run_limited(cmd, timeout_s=60 + cap / 10, mem_limit_mb=1024)
    except subprocess.TimeoutExpired as exc:
        raise IntakeError("corrupt", "The file could not be decoded in time.") from exc
    if done.returncode != 0:
        raise IntakeError(
            "corrupt",
            "The audio file is damaged and could not be decoded.",
            detail=done.stderr.decode(errors="replace")[-2000:],
        )
    audio = np.frombuffer(done.stdout, dtype="<f4").astype(np.float32)
    seconds = audio.size / DETECT_SAMPLE_RATE
    if seconds <= 0.01:
        raise IntakeError("not_audio", "The file contains no sound.")
    check_not_truncated(found, decoded_seconds=seconds, max_seconds=max_seconds)
    return audio


def _registry_matches(path: Path) -> list[dict]:
    try:
        from provenance.registry import registry_lookup
    except ImportError:  # a checkout without the registry
        return []
    return [
        {"record_id": match.record.pk, "score": round(float(match.score), 4)}
        for match in registry_lookup(path)
    ]


# --- the answer, by who asks -----------------------------------------------------------------
def detect_answer(result: dict, *, request) -> dict:
    """The public answer to a verdict. `generated_here` comes from the registry: staff see every
    match in full (and the lookup is audited); anyone else only that it was made here, and the
    day, never the account."""
    records = _records(result.get("matches") or [])
    answer = {
        "watermarked": bool(result["watermarked"]),
        "confidence": float(result["confidence"]),
        "c2pa": result.get("c2pa"),
        "generated_here": None,
    }
    user = getattr(request, "user", None)
    staff = bool(getattr(user, "is_staff", False) and user.is_active)
    if records:
        best, _ = records[0]
        answer["generated_here"] = {"generated": True, "date": best.created_at.date().isoformat()}
        if staff:
            answer["generated_here"]["matches"] = [
                _record_detail(record, score) for record, score in records
            ]
    if staff:
        _audit_lookup(request, answer, records)
    return answer


def _records(matches: list[dict]) -> list[tuple]:
    if not matches:
        return []
    from provenance.models import GenerationRecord

    found = GenerationRecord.objects.select_related("user").in_bulk(
        [m["record_id"] for m in matches]
    )
    return [(found[m["record_id"]], m["score"]) for m in matches if m["record_id"] in found]


def _record_detail(record, score: float) -> dict:
    """One registry match in full (staff only). The account's email is there while the account
    exists; after its deletion the record keeps its id and code (the audit log has the rest)."""
    user = record.user
    return {
        "score": score,
        "created_at": record.created_at.isoformat(),
        "account": {
            "id": str(record.account_code) if record.account_code else None,
            "user_id": record.account_id,
            "email": user.email if user is not None else None,
        },
        "voice_id": str(record.voice_code) if record.voice_code else None,
        "job_id": str(record.job_code),
        "model": record.model,
        "output_format": record.output_format,
    }


def _audit_lookup(request, answer: dict, records: list[tuple]) -> None:
    from audit.services import audit_record

    auth = getattr(request, "auth", None)
    audit_record(
        action="provenance.detect.admin_lookup",
        request=request,
        api_key=auth if hasattr(auth, "prefix") else None,
        target_type="provenance.generationrecord",
        target_id=str(records[0][0].pk) if records else "",
        data={
            "watermarked": answer["watermarked"],
            "confidence": answer["confidence"],
            "matched_jobs": [str(record.job_code) for record, _ in records],
        },
    )
