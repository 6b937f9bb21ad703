"""A voice built for several engines: choosing them, adding one later, building each one.

A voice's first engine keeps its conditioning on the voice (`Voice.engine`,
`Voice.conditioning`); each further engine has a `VoiceConditioning` row, computed once by a
worker of that engine from the same clean samples under the same verified consent, and never
per request. A request then chooses among the engines the voice is ready for (its model,
synthesis.jobs.checks.job_engine_resolve).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from config.service_errors import ServiceError
from synthesis.engines import EngineFacts, engine_for_model
from synthesis.engines.base import Conditioning, EngineUnavailable
from voices import selectors
from voices.models import Sample, Voice, VoiceConditioning
from voices.services.conditioning import ENGINE_UNAVAILABLE_MESSAGE, conditioning_compute
from voices.services.dispatch import voice_engine_build_dispatch

ENGINE_BUILD_TIMEOUT_MESSAGE = (
    "This model of the voice could not be built in time (the synthesis workers for it were "
    "unavailable). Add the model to the voice again to retry; the voice's other models work."
)


def engine_cloning(name: str) -> EngineFacts:
    """The installed cloning engine called `name` (or whose model id it is); ServiceError 400
    `unsupported_engine` otherwise, naming the engines a voice can be built for."""
    facts = engine_for_model(str(name or "").strip())
    if facts is None or not facts.clones:
        choices = ", ".join(selectors.cloning_engine_names()) or "none"
        raise ServiceError(
            code="unsupported_engine",
            message=f"{name!r} is not an installed engine that clones voices; "
            f"a voice can be built for: {choices}.",
            details={"engines": selectors.cloning_engine_names()},
        )
    return facts


def engines_clean(names) -> list[EngineFacts]:
    """The engines a new voice is built for, first one first (without repeats); none given:
    the default model's. ServiceError 400 unsupported_engine / 409 cloning_unavailable."""
    if isinstance(names, str):
        names = [names]
    found = list({facts.name: facts for facts in map(engine_cloning, names or [])}.values())
    if found:
        return found
    default = selectors.default_model()
    if default is None:
        raise ServiceError(
            code="cloning_unavailable",
            message="No installed engine clones voices; the operator can add one to "
            "TIMBRE_ENGINES.",
        )
    return [default]


def engine_rows_create(voice: Voice, further: list[EngineFacts]) -> None:
    """Rows for a new voice's further engines; they are built with the voice (after consent)."""
    VoiceConditioning.objects.bulk_create(
        [VoiceConditioning(voice=voice, engine=facts.name) for facts in further]
    )


@transaction.atomic
def voice_engine_add(*, user, voice: Voice, engine: str, request=None, api_key=None) -> Voice:
    """Build the owner's ready voice for one more engine, from its samples (202-style: the row
    is `building` until that engine's worker has computed it). Adding an engine whose earlier
    build failed builds it again.

    ServiceError: 403 stock_voice_readonly / voice_blocked, 404 for strangers, 400
    unsupported_engine, 409 voice_not_ready, voice_is_mix, engine_already_added, voice_no_samples.
    """
    voice = _owned_locked(user, voice)
    selectors.voice_usable_check(voice)
    facts = engine_cloning(engine)
    if voice.is_mix:
        raise ServiceError(
            "voice_is_mix",
            "A mix is blended from its voices' conditionings for one engine and cannot be "
            "built for another; mix voices built for that engine instead.",
        )
    if voice.status != Voice.Status.READY:
        raise ServiceError(
            "voice_not_ready",
            f"Voice {voice.name!r} is {voice.get_status_display().lower()}; add a model once "
            "it is ready.",
        )
    row = VoiceConditioning.objects.select_for_update().filter(voice=voice, engine=facts.name)
    row = row.first()
    if facts.name == voice.engine or (row and row.status != VoiceConditioning.Status.FAILED):
        raise ServiceError(
            "engine_already_added",
            f"Voice {voice.name!r} is already built (or being built) for {facts.label}.",
            details={"engines": [e["engine"] for e in selectors.voice_engine_list(voice)]},
        )
    if not voice.samples.filter(purpose=Sample.Purpose.VOICE, status=Sample.Status.READY).exists():
        raise ServiceError(
            "voice_no_samples",
            "This voice has no usable samples to build another model from.",
        )
    if row is None:
        row = VoiceConditioning.objects.create(voice=voice, engine=facts.name)
    else:
        row.status, row.failure_reason, row.dispatched_at = row.Status.BUILDING, "", None
        row.save(update_fields=["status", "failure_reason", "dispatched_at", "updated_at"])
    audit_record(
        action="voices.voice.engine_added",
        request=request,
        user=user,
        api_key=api_key,
        target=voice,
        data={"engine": facts.name, "model_id": facts.model_id},
    )
    voice_engine_build_dispatch(row)
    return voice


def _owned_locked(user, voice: Voice) -> Voice:
    # As voices.services.building._owned_for_change (which imports this module).
    if voice.is_stock:
        raise ServiceError(
            code="stock_voice_readonly",
            message="Stock voices speak only with their own engine; they cannot be built for "
            "another.",
        )
    if voice.owner_id != user.pk:
        raise ServiceError(code="not_found", message="Not found.")
    return Voice.objects.select_for_update().get(pk=voice.pk)


def voice_engine_conditioning_compute(*, conditioning_id: int, sample_names: list[str]) -> None:
    """Compute one further engine's conditioning of a voice (worker side). Idempotent: a row
    that is not building (done, failed, deleted) is left alone."""
    row = VoiceConditioning.objects.select_related("voice").filter(pk=conditioning_id).first()
    if row is None or row.status != VoiceConditioning.Status.BUILDING:
        return
    if row.voice.status in (Voice.Status.FAILED, Voice.Status.PENDING_CONSENT):
        return  # not cleared to build (consent); sent again with the voice's own build
    try:
        conditioning = conditioning_compute(row.engine, sample_names)
        if conditioning.engine != row.engine:
            raise ValueError(f"engine {row.engine} returned a {conditioning.engine} conditioning")
    except EngineUnavailable as exc:
        _engine_fail(row, ENGINE_UNAVAILABLE_MESSAGE, operator=f"{exc.reason} Fix: {exc.fix}")
        return
    except (OSError, ValueError, RuntimeError) as exc:
        _engine_fail(row, f"Could not compute the voice from its samples: {exc}")
        return
    engine_conditioning_store(row=row, conditioning=conditioning)


@transaction.atomic
def engine_conditioning_store(
    *, row: VoiceConditioning, conditioning: Conditioning
) -> VoiceConditioning | None:
    """Save one engine's conditioning (.npz, `Conditioning.to_npz_bytes`) and mark it ready.
    A filtered update: a row deleted (or its voice) while it was building stays deleted."""
    old = row.conditioning.name if row.conditioning else ""
    row.conditioning.save("conditioning.npz", ContentFile(conditioning.to_npz_bytes()), save=False)
    new = row.conditioning.name
    updated = VoiceConditioning.objects.filter(
        pk=row.pk, status=VoiceConditioning.Status.BUILDING
    ).update(
        conditioning=new,
        version=conditioning.engine_version,
        status=VoiceConditioning.Status.READY,
        failure_reason="",
        updated_at=timezone.now(),
    )
    if not updated:
        transaction.on_commit(lambda: default_storage.delete(new))
        return None
    if old and old != new:
        transaction.on_commit(lambda: default_storage.delete(old))
    row.refresh_from_db()
    audit_record(
        action="voices.voice.engine_built",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=row.voice,
        data={"engine": row.engine, "engine_version": conditioning.engine_version},
    )
    return row


@transaction.atomic
def _engine_fail(row: VoiceConditioning, reason: str, *, operator: str = "") -> bool:
    if not VoiceConditioning.objects.filter(
        pk=row.pk, status=VoiceConditioning.Status.BUILDING
    ).update(status=VoiceConditioning.Status.FAILED, failure_reason=reason):
        return False
    data = {"engine": row.engine, "reason": reason}
    if operator:
        data["operator"] = operator
    audit_record(
        action="voices.voice.engine_build_failed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=row.voice,
        data=data,
    )
    return True


def engine_builds_sweep(now=None, *, batch: int = 200) -> dict[str, int]:
    """The outbox of further-engine builds (beat): a build of a ready voice that never reached
    the broker, or was sent VOICE_BUILD_STALE_SECONDS ago and is still building, is sent again;
    one still building VOICE_BUILD_MAX_SECONDS after it was asked for fails with a message.
    (Builds of voices still building themselves go out with the voice's own build.)"""
    now = now or timezone.now()
    counts = {"sent": 0, "expired": 0}
    building = VoiceConditioning.objects.filter(status=VoiceConditioning.Status.BUILDING)
    too_old = now - timedelta(seconds=settings.VOICE_BUILD_MAX_SECONDS)
    for row in building.filter(updated_at__lt=too_old).select_related("voice")[:batch]:
        counts["expired"] += _engine_fail(row, ENGINE_BUILD_TIMEOUT_MESSAGE, operator="timeout")
    grace = now - timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
    stale = now - timedelta(seconds=settings.VOICE_BUILD_STALE_SECONDS)
    due = building.filter(voice__status=Voice.Status.READY).filter(
        Q(dispatched_at__isnull=True, updated_at__lt=grace) | Q(dispatched_at__lt=stale)
    )
    for row in due.select_related("voice").order_by("updated_at")[:batch]:
        with transaction.atomic():
            voice_engine_build_dispatch(row)
        counts["sent"] += 1
    return counts
