"""Voice conditioning: computed once by a synthesis worker, stored as .npz, never recomputed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from audit.models import AuditEvent
from audit.services import audit_record
from synthesis.engines import runtime
from synthesis.engines.base import Conditioning, EngineUnavailable
from voices.models import Sample, Voice, VoiceConditioning
from voices.selectors import cloning_engine


class ConditioningUnreadable(ValueError):
    """A voice's stored conditioning is missing or cannot be read (a damaged or foreign file)."""


REBUILD_MESSAGE = (
    "This voice's stored model could not be read (the file is missing or damaged), so it is "
    "being rebuilt from its samples. It will be ready again in a few minutes; jobs for it are "
    "refused until then."
)
# What the owner reads when the build failed because no worker could load the engine: the
# reason and its fix (a setting) are for the operator (the audit row, the staff-only notice).
ENGINE_UNAVAILABLE_MESSAGE = (
    "Voice cloning is not available on this server yet, so this voice could not be built. "
    "It does not use one of your voice slots; retry it once cloning is available."
)
NO_SAMPLES_MESSAGE = (
    "This voice's stored model could not be read (the file is missing or damaged), and it has no "
    "samples to rebuild it from. Delete the voice and create it again."
)


def conditioning_load(voice: Voice, engine: str = "") -> Conditioning:
    """The stored conditioning of a ready voice for `engine` (default: the voice's first
    engine), an .npz read without pickle.

    Raises ConditioningUnreadable when the file is missing, truncated, not an .npz, pickled or
    otherwise not what `Conditioning.to_npz_bytes` wrote, or not made by that engine.
    """
    stored = voice.conditioning
    if engine and engine != voice.engine:
        row = VoiceConditioning.objects.filter(
            voice=voice, engine=engine, status=VoiceConditioning.Status.READY
        ).first()
        stored = row.conditioning if row is not None else None
    if not stored:
        raise ConditioningUnreadable(
            f"Voice {voice.code} has no {engine or voice.engine} conditioning yet "
            f"(status {voice.status})."
        )
    try:
        with stored.open("rb") as handle:
            loaded = Conditioning.from_npz_bytes(handle.read())
        if engine and loaded.engine != engine:
            raise ValueError(f"it was made by {loaded.engine}, not {engine}")
        return loaded
    except Exception as exc:  # any failure to read or parse: the file is not usable
        raise ConditioningUnreadable(
            f"The stored conditioning of voice {voice.code} is unreadable: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


@transaction.atomic
def voice_rebuild_request(*, voice_id: int, reason: str, engine: str = "") -> Voice | None:
    """A ready voice whose conditioning cannot be loaded: mark it `needs_rebuild` with a message
    the owner understands and queue its rebuild from its samples (or fail it when it has none).
    Idempotent: a voice that is not `ready` any more is left alone (None).

    For a further engine of the voice (`engine`, not its first) only that engine's conditioning
    is rebuilt; the voice keeps speaking with its other engines meanwhile."""
    from voices.services.dispatch import voice_build_dispatch

    voice = Voice.objects.select_for_update().filter(pk=voice_id).first()
    if voice is not None and engine and engine != voice.engine:
        _engine_rebuild_request(voice, engine, reason)
        return voice
    if voice is None or voice.status != Voice.Status.READY or voice.is_stock:
        return None
    has_samples = voice.samples.filter(
        status=Sample.Status.READY, purpose=Sample.Purpose.VOICE
    ).exists()
    voice.status = Voice.Status.NEEDS_REBUILD if has_samples else Voice.Status.FAILED
    voice.failure_reason = REBUILD_MESSAGE if has_samples else NO_SAMPLES_MESSAGE
    voice.save(update_fields=["status", "failure_reason", "updated_at"])
    audit_record(
        action="voices.voice.needs_rebuild",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=voice,
        data={"reason": reason[:500], "rebuilding": has_samples},
    )
    if has_samples:
        voice_build_dispatch(voice)
    return voice


@transaction.atomic
def conditioning_store(*, voice: Voice, conditioning: Conditioning) -> Voice | None:
    """Save the conditioning through the storage API and mark the voice ready.

    A filtered update, not `save()`: a voice deleted while it was building must stay deleted
    (and its new file is removed), not come back as a ghost.
    """
    old = voice.conditioning.name if voice.conditioning else ""
    voice.conditioning.save(
        "conditioning.npz", ContentFile(conditioning.to_npz_bytes()), save=False
    )
    new = voice.conditioning.name
    updated = Voice.objects.filter(pk=voice.pk).update(
        conditioning=new,
        conditioning_version=conditioning.engine_version,
        engine=conditioning.engine,
        status=Voice.Status.READY,
        failure_reason="",
    )
    if not updated:
        transaction.on_commit(lambda: default_storage.delete(new))
        return None
    if old and old != new:
        transaction.on_commit(lambda: default_storage.delete(old))
    voice.refresh_from_db()
    audit_record(
        action="voices.voice.built",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=voice,
        data={"engine": conditioning.engine, "engine_version": conditioning.engine_version},
    )
    return voice


def _engine_rebuild_request(voice: Voice, engine: str, reason: str) -> None:
    from voices.services.dispatch import voice_engine_build_dispatch

    row = (
        VoiceConditioning.objects.select_for_update()
        .filter(voice=voice, engine=engine, status=VoiceConditioning.Status.READY)
        .first()
    )
    if row is None:
        return
    row.status = VoiceConditioning.Status.BUILDING
    row.failure_reason = REBUILD_MESSAGE
    row.dispatched_at = None
    row.save(update_fields=["status", "failure_reason", "dispatched_at", "updated_at"])
    audit_record(
        action="voices.voice.needs_rebuild",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=voice,
        data={"reason": reason[:500], "rebuilding": True, "engine": engine},
    )
    voice_engine_build_dispatch(row)


def conditioning_compute(engine_name: str, sample_names: list[str]) -> Conditioning:
    """One engine's conditioning from clean WAV samples held in storage (worker side).

    Samples are copied to local temporary files first: storage may be a remote bucket and the
    engine reads paths.
    """
    engine = runtime.engine_get(engine_name)
    with tempfile.TemporaryDirectory(prefix="timbre-cond-") as tmp:
        paths = []
        for index, name in enumerate(sample_names):
            path = Path(tmp) / f"sample-{index}.wav"
            with default_storage.open(name, "rb") as src:
                path.write_bytes(src.read())
            paths.append(path)
        return engine.compute_conditioning(wav_paths=paths)


def voice_conditioning_compute(*, voice_id: int, sample_names: list[str]) -> None:
    """Compute a voice's conditioning for its first engine (worker side)."""
    voice = Voice.objects.filter(pk=voice_id).first()
    if voice is None or voice.status not in (Voice.Status.BUILDING, Voice.Status.NEEDS_REBUILD):
        return  # deleted meanwhile, a duplicate delivery, or not cleared to build (consent)
    try:
        conditioning = conditioning_compute(voice.engine or cloning_engine().name, sample_names)
    except EngineUnavailable as exc:
        # The owner cannot fix this and must not see operator detail; the audit row keeps it.
        _voice_fail(voice, ENGINE_UNAVAILABLE_MESSAGE, operator=f"{exc.reason} Fix: {exc.fix}")
        return
    except (OSError, ValueError, RuntimeError) as exc:
        _voice_fail(voice, f"Could not compute the voice from its samples: {exc}")
        return
    conditioning_store(voice=voice, conditioning=conditioning)


@transaction.atomic
def _voice_fail(voice: Voice, reason: str, *, operator: str = "") -> None:
    Voice.objects.filter(pk=voice.pk).update(status=Voice.Status.FAILED, failure_reason=reason)
    data = {"reason": reason, "operator": operator} if operator else {"reason": reason}
    audit_record(
        action="voices.voice.build_failed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=voice,
        data=data,
    )
