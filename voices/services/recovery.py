"""The voices half of the outbox sweeper (called by synthesis.jobs.recovery.outbox_sweep).

Samples: an intake whose task never reached the broker is sent; one sent more than
SAMPLE_INTAKE_STALE_SECONDS ago and still open is sent again (intake is idempotent); one still
open SAMPLE_INTAKE_MAX_SECONDS after upload is rejected with a message.

Voices: a build (or the consent check before it) that never reached the broker is sent; one
sent more than VOICE_BUILD_STALE_SECONDS ago and still building is sent again; a voice still
building VOICE_BUILD_MAX_SECONDS after it was asked for fails with a message.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from config.service_errors import ServiceError
from voices.models import Consent, Sample, Voice, VoiceConditioning
from voices.selectors import voice_usable_check
from voices.services.building import _owned_for_change, voice_slots_check
from voices.services.dispatch import (
    consent_verify_dispatch,
    sample_intake_dispatch,
    voice_build_dispatch,
)
from voices.services.engines import engine_builds_sweep
from voices.services.samples import _OPEN, sample_reject

logger = logging.getLogger(__name__)

BATCH = 200
INTAKE_TIMEOUT_CODE = "processing_timeout"
INTAKE_TIMEOUT_MESSAGE = (
    "We could not process this file in time (the audio workers were unavailable). "
    "Upload it again; if it keeps happening, tell us."
)
BUILD_TIMEOUT_MESSAGE = (
    "The voice could not be built in time (the synthesis workers were unavailable). "
    "Delete it and create it again; if it keeps happening, tell us."
)
_BUILDING = (Voice.Status.BUILDING, Voice.Status.NEEDS_REBUILD)


def samples_sweep(now=None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"sent": 0, "expired": 0}
    too_old = now - timedelta(seconds=settings.SAMPLE_INTAKE_MAX_SECONDS)
    for sample_id in list(
        Sample.objects.filter(status__in=_OPEN, created_at__lt=too_old).values_list(
            "pk", flat=True
        )[:BATCH]
    ):
        if sample_reject(
            sample_id=sample_id, code=INTAKE_TIMEOUT_CODE, message=INTAKE_TIMEOUT_MESSAGE
        ):
            counts["expired"] += 1
    grace = now - timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
    stale = now - timedelta(seconds=settings.SAMPLE_INTAKE_STALE_SECONDS)
    unsent = Sample.objects.filter(status__in=_OPEN).filter(
        Q(dispatched_at__isnull=True, created_at__lt=grace) | Q(dispatched_at__lt=stale)
    )
    for sample_id in list(unsent.order_by("created_at").values_list("pk", flat=True)[:BATCH]):
        if not sample_intake_dispatch(sample_id):
            break  # the broker is still down
        counts["sent"] += 1
    return counts


@transaction.atomic
def _voice_build_expire(voice_id: int, before) -> bool:
    if not Voice.objects.filter(pk=voice_id, status__in=_BUILDING, updated_at__lt=before).update(
        status=Voice.Status.FAILED, failure_reason=BUILD_TIMEOUT_MESSAGE, updated_at=timezone.now()
    ):
        return False
    audit_record(
        action="voices.voice.build_failed",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=Voice.objects.get(pk=voice_id),
        data={"reason": "timeout"},
    )
    return True


@transaction.atomic
def voice_build_resend(voice: Voice) -> None:
    """Send a building voice's next step again: its consent check when the recording is not
    verified yet, else its build."""
    consent = Consent.objects.filter(voice=voice).first()
    if consent is not None and consent.recording_id and consent.status == Consent.Status.RECORDED:
        consent_verify_dispatch(consent.pk, voice_id=voice.pk)
    else:
        voice_build_dispatch(voice)


@transaction.atomic
def voice_build_retry(*, user, voice: Voice, request=None, api_key=None) -> Voice:
    """Queue the build of the owner's failed voice again (its consent check first when that
    never ran); the voice is `building` again and takes a voice slot again.

    404 for anyone but the owner; 409 `voice_not_retryable` for a voice that is not failed, a
    mix, one whose consent did not match (an administrator reviews it) or one with no samples.
    """
    voice = _owned_for_change(user, voice)
    _retry_check(voice)
    voice_slots_check(user)
    previous = voice.failure_reason
    voice.status = Voice.Status.BUILDING
    voice.failure_reason = ""
    voice.build_dispatched_at = None
    voice.save(update_fields=["status", "failure_reason", "build_dispatched_at", "updated_at"])
    # Its further engines are built again with it (voice_build_dispatch sends the building ones).
    voice.conditionings.filter(status=VoiceConditioning.Status.FAILED).update(
        status=VoiceConditioning.Status.BUILDING, failure_reason="", dispatched_at=None
    )
    audit_record(
        action="voices.voice.build_retried",
        request=request,
        user=user,
        api_key=api_key,
        target=voice,
        data={"previous_failure": previous[:500]},
    )
    voice_build_resend(voice)
    return voice


def voice_retry_refusal(voice: Voice) -> str:
    """Why a failed voice cannot be built again ("" when it can); also shown next to the
    disabled Retry button."""
    if voice.status != Voice.Status.FAILED:
        return f"Only a failed build can be retried; this voice is {voice.get_status_display()}."
    if voice.is_mix:
        return "A mix is not built from samples; delete it and mix the voices again."
    consent = Consent.objects.filter(voice=voice).first()
    if voice.flagged or (consent is not None and consent.status == Consent.Status.MISMATCH):
        return "An administrator is reviewing this voice's consent recording."
    if not voice.samples.filter(purpose=Sample.Purpose.VOICE, status=Sample.Status.READY).exists():
        return "This voice has no usable samples left; delete it and create it again."
    return ""


def _retry_check(voice: Voice) -> None:
    voice_usable_check(voice)  # 403 voice_blocked
    refusal = voice_retry_refusal(voice)
    if refusal:
        raise ServiceError("voice_not_retryable", refusal, details={"status": voice.status})


def voices_builds_sweep(now=None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"sent": 0, "expired": 0}
    too_old = now - timedelta(seconds=settings.VOICE_BUILD_MAX_SECONDS)
    building = Voice.objects.filter(status__in=_BUILDING, is_stock=False, mix_sources=[])
    for voice_id in list(building.filter(updated_at__lt=too_old).values_list("pk", flat=True)):
        counts["expired"] += _voice_build_expire(voice_id, too_old)
    grace = now - timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
    stale = now - timedelta(seconds=settings.VOICE_BUILD_STALE_SECONDS)
    due = building.filter(
        Q(build_dispatched_at__isnull=True, updated_at__lt=grace) | Q(build_dispatched_at__lt=stale)
    )
    for voice in due.order_by("updated_at")[:BATCH]:
        voice_build_resend(voice)
        counts["sent"] += 1
    return counts


def voices_sweep() -> dict[str, dict[str, int]]:
    return {
        "samples": samples_sweep(),
        "voices": voices_builds_sweep(),
        "voice_engines": engine_builds_sweep(),
    }
