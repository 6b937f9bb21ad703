"""Protected voices: people who must not be cloned here.

An admin adds one with a few samples of the voice (provenance of the samples is the admin's
business; they are kept). The web process has no torch, so the samples are embedded on the
audio queue (`voices.tasks.sample_protected_voice_embed`): each goes through the same intake as
a user's sample (probe, transcode, clean), then resemblyzer's speaker embedding
(voices.audio.speaker), averaged into one unit vector.

Every new sample and consent recording (both pass through voices.services.samples
.sample_intake_run) is compared with every active, ready protected voice: at or above
PROTECTED_VOICE_THRESHOLD it is refused (code `protected_voice`), a `protected_voice` flag is
raised for the moderators and the refusal is audited with the score and threshold.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.moderation import admin_record
from audit.models import AuditEvent
from audit.services import audit_record
from config import queueing
from config.service_errors import ServiceError
from voices.models import Flag, ProtectedVoice, Sample
from voices.services.moderation import flag_raise
from voices.uploads import upload_limit_bytes

logger = logging.getLogger(__name__)

PROTECTED_CODE = "protected_voice"
PROTECTED_MESSAGE = (
    "This recording sounds like a voice that may not be cloned on this service, so it was not "
    "accepted. An administrator will review it; if this is your own voice, contact them."
)
MAX_SAMPLES = 10
EMBEDDING_DIM = 256


@dataclass(frozen=True)
class ProtectedHit:
    """The closest active protected voice to a recording."""

    protected_id: int
    code: str
    name: str
    score: float
    threshold: float

    @property
    def matched(self) -> bool:
        return self.score >= self.threshold

    def to_dict(self) -> dict:
        return {
            "protected_voice": self.code,
            "protected_name": self.name,
            "score": round(self.score, 4),
            "threshold": self.threshold,
        }


def embedding_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").reshape(EMBEDDING_DIM).tobytes()


def embedding_from_bytes(data) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f4").astype(np.float32)


# --- admin side ----------------------------------------------------------------------------------
def protected_voice_create(
    *, name: str, note: str, uploads: list, admin_user, request=None
) -> ProtectedVoice:
    """Store the samples and queue their embedding (audio queue) on commit.
    ServiceError `name_required`, `samples_required`, `too_many_samples`."""
    name = (name or "").strip()
    if not name:
        raise ServiceError("name_required", "Give the protected voice a name.")
    if not uploads:
        raise ServiceError("samples_required", "Upload at least one sample of the voice.")
    if len(uploads) > MAX_SAMPLES:
        raise ServiceError("too_many_samples", f"Upload at most {MAX_SAMPLES} samples.")
    code = uuid.uuid4()
    # Generated names only; the raw bytes as uploaded (the audio worker decodes them).
    names = [
        default_storage.save(f"protected/{code}/sample-{index + 1}", File(upload))
        for index, upload in enumerate(uploads)
    ]
    try:
        with transaction.atomic():
            protected = ProtectedVoice.objects.create(
                code=code, name=name[:200], note=note or "", samples=names, created_by=admin_user
            )
            admin_record(
                action="voices.protected_voice.created",
                admin_user=admin_user,
                request=request,
                target=protected,
                data={"name": protected.name, "samples": len(names)},
            )
            protected_id = protected.pk
            transaction.on_commit(lambda: protected_voice_embed_dispatch(protected_id))
    except BaseException:
        for stored in names:
            default_storage.delete(stored)
        raise
    return protected


def protected_voice_embed_dispatch(protected_id: int) -> bool:
    """Queue the embedding on the audio queue (the task's name routes it there)."""
    sent = queueing.task_send(
        "voices.tasks.sample_protected_voice_embed", protected_id=protected_id
    )
    if sent is not False:
        ProtectedVoice.objects.filter(pk=protected_id).update(dispatched_at=timezone.now())
    return sent is not False


@transaction.atomic
def protected_voice_embed_retry(*, protected: ProtectedVoice, admin_user, request=None) -> None:
    """Queue the embedding again: of a failed one (after its error was read), or of a pending
    one whose task never left (broker down). ServiceError `already_ready`."""
    protected = ProtectedVoice.objects.select_for_update().get(pk=protected.pk)
    if protected.status == ProtectedVoice.Status.READY:
        raise ServiceError("already_ready", f"{protected.name!r} is embedded already.")
    protected.status = ProtectedVoice.Status.PENDING
    protected.error = ""
    protected.save(update_fields=["status", "error"])
    admin_record(
        action="voices.protected_voice.embed_retried",
        admin_user=admin_user,
        request=request,
        target=protected,
        data={"name": protected.name},
    )
    protected_id = protected.pk
    transaction.on_commit(lambda: protected_voice_embed_dispatch(protected_id))


@transaction.atomic
def protected_voice_set_active(
    *, protected: ProtectedVoice, active: bool, admin_user, request=None
) -> ProtectedVoice:
    protected = ProtectedVoice.objects.select_for_update().get(pk=protected.pk)
    if protected.active == active:
        return protected
    protected.active = active
    protected.save(update_fields=["active"])
    admin_record(
        action="voices.protected_voice." + ("activated" if active else "deactivated"),
        admin_user=admin_user,
        request=request,
        target=protected,
        data={"name": protected.name},
    )
    return protected


# --- worker side (audio queue) -------------------------------------------------------------------
def protected_voice_embed_run(*, protected_id: int) -> None:
    """Intake and embed the samples of a pending protected voice. Idempotent: only a pending
    one is embedded."""
    from voices.audio.intake import IntakeError, intake
    from voices.audio.speaker import embed

    protected = ProtectedVoice.objects.filter(
        pk=protected_id, status=ProtectedVoice.Status.PENDING
    ).first()
    if protected is None:
        return
    vectors = []
    try:
        with tempfile.TemporaryDirectory(prefix="timbre-protected-") as tmp:
            for index, name in enumerate(protected.samples):
                local = Path(tmp) / f"upload-{index}"
                with default_storage.open(name, "rb") as src:
                    local.write_bytes(src.read())
                result = intake(
                    local,
                    Path(tmp) / f"work-{index}",
                    max_bytes=upload_limit_bytes(protected.created_by),
                    max_seconds=settings.VOICES_SAMPLE_MAX_SECONDS,
                    min_speech_seconds=settings.VOICES_CONSENT_MIN_SPEECH_SECONDS,
                )
                vectors.append(embed(result.clean_wav_path))
    except (IntakeError, ValueError, OSError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        protected_voice_embed_finish(protected_id=protected_id, vector=None, error=message)
        return
    centroid = np.mean(np.stack(vectors), axis=0)
    centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-9)
    protected_voice_embed_finish(protected_id=protected_id, vector=centroid, error="")


@transaction.atomic
def protected_voice_embed_finish(*, protected_id: int, vector, error: str) -> None:
    protected = (
        ProtectedVoice.objects.select_for_update()
        .filter(pk=protected_id, status=ProtectedVoice.Status.PENDING)
        .first()
    )
    if protected is None:
        return
    if vector is None:
        protected.status = ProtectedVoice.Status.FAILED
        protected.error = f"A sample could not be used: {error}"
    else:
        protected.status = ProtectedVoice.Status.READY
        protected.embedding = embedding_to_bytes(vector)
        protected.error = ""
    protected.embedded_at = timezone.now()
    protected.save(update_fields=["status", "error", "embedding", "embedded_at"])
    audit_record(
        action="voices.protected_voice." + ("embedded" if vector is not None else "failed"),
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=protected,
        data={"error": protected.error} if vector is None else {"samples": len(protected.samples)},
    )


def protected_voice_screen(wav_path: Path | str) -> ProtectedHit | None:
    """The closest active, ready protected voice to the clean WAV at `wav_path`, or None when
    there is none to compare with (then nothing is embedded at all). Raises ValueError when the
    recording holds too little voiced audio to embed."""
    rows = list(
        ProtectedVoice.objects.filter(
            active=True, status=ProtectedVoice.Status.READY, embedding__isnull=False
        ).values_list("pk", "code", "name", "embedding")
    )
    if not rows:
        return None
    from voices.audio.speaker import embed

    candidate = embed(wav_path)
    references = np.stack([embedding_from_bytes(row[3]) for row in rows])
    scores = references @ candidate / np.maximum(np.linalg.norm(references, axis=1), 1e-9)
    best = int(np.argmax(scores))
    pk, code, name, _ = rows[best]
    return ProtectedHit(
        protected_id=pk,
        code=str(code),
        name=name,
        score=float(scores[best]),
        threshold=settings.PROTECTED_VOICE_THRESHOLD,
    )


def protected_hit_flag(*, sample: Sample, hit: ProtectedHit) -> Flag:
    """Flag and audit a refused sample; call inside the transaction that refuses it."""
    details = {
        **hit.to_dict(),
        "sample": str(sample.code),
        "purpose": sample.purpose,
        "owner": sample.owner.email,
        "owner_id": str(sample.owner.code),
    }
    reason = (
        f"A {sample.get_purpose_display().lower()} of {sample.owner.email} resembles the "
        f"protected voice {hit.name!r} (similarity {hit.score:.2f}; threshold {hit.threshold:.2f})."
    )
    flag = flag_raise(
        kind=Flag.Kind.PROTECTED_VOICE, voice=sample.voice, reason=reason, details=details
    )
    audit_record(
        action="voices.sample.protected_voice",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=sample,
        data={**hit.to_dict(), "flag": str(flag.code)},
    )
    return flag
