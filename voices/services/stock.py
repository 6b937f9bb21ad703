"""Stock voices: the voices an engine ships with (Piper), kept as Voice rows every user sees.

A synthesis worker syncs them when it starts (and `manage.py stock_voices_sync` does it by
hand), so stock voices go through the same job pipeline, formats, quotas and APIs as cloned
ones: their "conditioning" is just the engine's voice id.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.db import transaction

from audit.models import AuditEvent
from audit.services import audit_record
from voices.models import Voice

logger = logging.getLogger(__name__)


def stock_voices_sync(engine) -> list[Voice]:
    """Create or refresh a Voice row per stock voice of `engine`; retire ones that are gone."""
    seen, voices = [], []
    for stock in engine.voices:
        conditioning = engine.conditioning_for(stock.id)
        voices.append(_upsert(stock, conditioning))
        seen.append(stock.id)
    gone = Voice.objects.filter(is_stock=True, engine=engine.name).exclude(stock_id__in=seen)
    for voice in gone:
        _retire(voice)
    return voices


@transaction.atomic
def _upsert(stock, conditioning) -> Voice:
    voice = Voice.objects.select_for_update().filter(stock_id=stock.id).first()
    if voice is not None and voice.conditioning_version == conditioning.engine_version:
        if voice.status != Voice.Status.READY:
            Voice.objects.filter(pk=voice.pk).update(status=Voice.Status.READY)
        return voice
    created = voice is None
    if created:
        voice = Voice(stock_id=stock.id, is_stock=True, owner=None)
    voice.name = stock.name
    voice.description = f"Stock {engine_label(stock)} voice ({stock.quality or 'standard'})"
    voice.language = stock.language
    voice.engine = conditioning.engine
    voice.labels = {"stock": True, "quality": stock.quality}
    voice.status = Voice.Status.READY
    voice.conditioning_version = conditioning.engine_version
    voice.conditioning.save(
        "conditioning.npz", ContentFile(conditioning.to_npz_bytes()), save=False
    )
    voice.save()
    audit_record(
        action="voices.stock_voice.synced",
        actor_type=AuditEvent.ActorType.SYSTEM,
        target=voice,
        data={"stock_id": stock.id, "created": created},
    )
    return voice


def engine_label(stock) -> str:
    return stock.id.split(":", 1)[0].capitalize()


@transaction.atomic
def _retire(voice: Voice) -> None:
    # Past jobs keep pointing at the row; it simply stops being offered.
    Voice.objects.filter(pk=voice.pk).update(
        status=Voice.Status.FAILED, failure_reason="This stock voice was removed."
    )
    audit_record(
        action="voices.stock_voice.retired", actor_type=AuditEvent.ActorType.SYSTEM, target=voice
    )
