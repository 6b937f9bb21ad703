"""Helpers for the model-choice tests (issue 14: the request chooses the engine as the model)."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.utils import timezone

from synthesis.models import EngineStatusRecord
from tests.voices.helpers import fake_conditioning, make_ready_voice
from voices.models import VoiceConditioning

TOY_SHAPES = {"timbre": (1, 8)}


def add_ready_engine(voice, engine: str) -> VoiceConditioning:
    """The voice built for one more engine, as a finished per-engine build leaves it (no
    worker: for web-side tests; the worker tests build it through voice_engine_add)."""
    row = VoiceConditioning(voice=voice, engine=engine, status=VoiceConditioning.Status.READY)
    npz = fake_conditioning(1, engine=engine, shapes=TOY_SHAPES).to_npz_bytes()
    row.conditioning.save("conditioning.npz", ContentFile(npz), save=False)
    row.save()
    return row


def voice_for_both_toys(owner, name="Both"):
    """A ready voice built for the toy (first) and the second toy engine."""
    voice = make_ready_voice(owner, name, engine="toy", language="en")
    add_ready_engine(voice, "toyb")
    return voice


def engine_loaded(engine: str, *, ready: bool = True, hostname="probe@host") -> EngineStatusRecord:
    """A live worker's record for `engine`, as a worker that has loaded it publishes."""
    record, _ = EngineStatusRecord.objects.update_or_create(
        hostname=hostname,
        engine=engine,
        defaults={"ready": ready, "heartbeat_at": timezone.now(), "device": "cpu"},
    )
    return record
