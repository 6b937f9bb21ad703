"""Queueing voices work by task name (config.queueing), so that no service imports a tasks
module and the services that queue work do not import each other."""

from __future__ import annotations

from config import queueing
from voices.models import Sample, Voice


def sample_intake_dispatch(sample_id: int) -> None:
    """Queue the intake of an uploaded sample (audio queue) now; the caller runs this on commit."""
    queueing.task_send("voices.tasks.sample_intake", sample_id=sample_id)
    Sample.objects.filter(pk=sample_id, status=Sample.Status.UPLOADED).update(
        status=Sample.Status.PROCESSING
    )


def consent_verify_dispatch(consent_id: int) -> None:
    """Queue speaker verification of a consent recording (audio queue) on commit."""
    queueing.task_send_on_commit("voices.tasks.sample_consent_verify", consent_id=consent_id)


def voice_build_dispatch(voice: Voice) -> None:
    """Queue the conditioning build (synthesis queue) once the transaction commits."""
    names = list(
        voice.samples.filter(purpose=Sample.Purpose.VOICE, status=Sample.Status.READY)
        .order_by("id")
        .values_list("clean", flat=True)
    )
    queueing.task_send_on_commit(
        "voices.tasks.voice_conditioning_compute", voice_id=voice.pk, sample_names=names
    )
