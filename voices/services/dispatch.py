"""Queueing voices work by task name (config.queueing), so that no service imports a tasks
module and the services that queue work do not import each other.

The rows are the outbox: a sample records when its intake was sent (`dispatched_at`), a voice
when its build (or its consent check) was (`build_dispatched_at`). A send that fails because the
broker is down leaves them unset, and `voices.services.recovery` sends them again.
"""

from __future__ import annotations

from django.utils import timezone

from config import queueing
from voices.models import Consent, Sample, Voice, VoiceConditioning


def sample_intake_dispatch(sample_id: int) -> bool:
    """Queue the intake of an uploaded sample (audio queue) now; the caller runs this on commit.
    False when the broker is down (the sample stays `uploaded`, unsent, for the sweeper)."""
    if queueing.task_send("voices.tasks.sample_intake", sample_id=sample_id) is False:
        return False
    Sample.objects.filter(pk=sample_id).update(dispatched_at=timezone.now())
    Sample.objects.filter(pk=sample_id, status=Sample.Status.UPLOADED).update(
        status=Sample.Status.PROCESSING
    )
    return True


def _build_sent(voice_id: int):
    def then(sent: bool) -> None:
        if sent:
            Voice.objects.filter(pk=voice_id).update(build_dispatched_at=timezone.now())

    return then


def consent_verify_dispatch(consent_id: int, *, voice_id: int | None = None) -> None:
    """Queue speaker verification of a consent recording (audio queue) on commit."""
    if voice_id is None:
        voice_id = Consent.objects.filter(pk=consent_id).values_list("voice_id", flat=True).first()
    queueing.task_send_on_commit(
        "voices.tasks.sample_consent_verify",
        then=_build_sent(voice_id) if voice_id else None,
        consent_id=consent_id,
    )


def _clean_sample_names(voice: Voice) -> list[str]:
    return list(
        voice.samples.filter(purpose=Sample.Purpose.VOICE, status=Sample.Status.READY)
        .order_by("id")
        .values_list("clean", flat=True)
    )


def voice_build_dispatch(voice: Voice) -> None:
    """Queue the conditioning build (the engine's synthesis queue) once the transaction commits;
    the builds of the voice's further engines still waiting (`building`) go with it, each to
    its own engine's queue: one consent check clears them all."""
    names = _clean_sample_names(voice)
    queueing.task_send_on_commit(
        "voices.tasks.voice_conditioning_compute",
        then=_build_sent(voice.pk),
        voice_id=voice.pk,
        sample_names=names,
        engine=voice.engine,
    )
    for row in voice.conditionings.filter(status=VoiceConditioning.Status.BUILDING):
        voice_engine_build_dispatch(row, sample_names=names)


def voice_engine_build_dispatch(row: VoiceConditioning, *, sample_names=None) -> None:
    """Queue one further engine's conditioning build (that engine's queue) on commit."""

    def then(sent: bool) -> None:
        if sent:
            VoiceConditioning.objects.filter(pk=row.pk).update(dispatched_at=timezone.now())

    queueing.task_send_on_commit(
        "voices.tasks.voice_engine_conditioning_compute",
        then=then,
        conditioning_id=row.pk,
        sample_names=_clean_sample_names(row.voice) if sample_names is None else sample_names,
        engine=row.engine,
    )
