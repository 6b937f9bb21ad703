"""Voice mixes: a weighted blend of 2-5 of the owner's ready voices (numpy, in the web process)."""

from __future__ import annotations

import math
import re

from django.core.files.base import ContentFile
from django.db import transaction

from audit.services import audit_record
from config.service_errors import ServiceError
from synthesis.engines.base import blend
from voices.models import Voice
from voices.selectors import voice_usable_check
from voices.services.building import voice_fields_clean, voice_insert, voice_slots_check
from voices.services.conditioning import conditioning_load

MIN_MIX, MAX_MIX = 2, 5
_PART = re.compile(r"^\s*(?P<name>[^()]+?)\s*(?:\((?P<weight>[^()]*)\))?\s*$")


def _invalid(code: str, message: str, **details) -> ServiceError:
    return ServiceError(code=code, message=message, details=details)


def weight_check(value) -> float:
    """A mix weight as a positive finite float; ServiceError invalid_weight otherwise."""
    if isinstance(value, bool):
        value = None
    try:
        weight = float(value)
    except (TypeError, ValueError):
        weight = math.nan
    if not math.isfinite(weight) or weight <= 0:
        raise _invalid("invalid_weight", f"Mix weights must be positive numbers, got {value!r}.")
    return weight


def mix_spec_parse(spec: str) -> list[tuple[str, float]]:
    """Parse "name1(2)+name2(1)" (a weight left out is 1) into [(name, weight), ...].

    Voice names holding "+", "(" or ")" cannot be written this way; use the list form.
    """
    parts = []
    for raw in (spec or "").split("+"):
        match = _PART.match(raw)
        if match is None:
            raise _invalid("invalid_mix", f"Cannot read {raw.strip()!r}; write name(weight).")
        weight = match["weight"]
        parts.append((match["name"], weight_check(weight) if weight is not None else 1.0))
    return parts


def _check_sources(owner, items: list[tuple[Voice, float]]) -> None:
    if not MIN_MIX <= len(items) <= MAX_MIX:
        raise _invalid("invalid_mix", f"Mix {MIN_MIX} to {MAX_MIX} voices.")
    seen = set()
    for voice, weight in items:
        weight_check(weight)
        if voice.is_stock:
            raise _invalid(
                "stock_voice_not_mixable",
                f"{voice.name!r} is a stock voice; only your own voices can be mixed.",
            )
        if voice.owner_id != owner.pk:
            raise ServiceError(
                code="not_found",
                message="Not found.",
            )
        voice_usable_check(voice)  # 403 voice_blocked
        if voice.pk in seen:
            raise _invalid("invalid_mix", f"{voice.name!r} appears twice in the mix.")
        seen.add(voice.pk)
        if voice.status != Voice.Status.READY or not voice.conditioning:
            raise ServiceError(
                code="voice_not_ready",
                message=f"{voice.name!r} is {voice.status}.",
            )
    engines = {voice.engine for voice, _ in items}
    if len(engines) > 1:
        raise _invalid(
            "engine_mismatch",
            "Only voices of the same engine can be mixed.",
            engines=sorted(engines),
        )


@transaction.atomic
def voice_mix(
    *,
    owner,
    name: str,
    items: list[tuple[Voice, float]],
    description: str = "",
    language: str = "",
    labels=None,
    request=None,
    api_key=None,
) -> Voice:
    """A new ready voice whose conditioning is the weighted average of the items' conditionings.

    Weights are normalised to sum to 1 and kept in `mix_sources`.
    """
    name, language, labels = voice_fields_clean(name=name, language=language, labels=labels)
    _check_sources(owner, items)
    try:
        mixed = blend([(conditioning_load(voice), float(weight)) for voice, weight in items])
    except ValueError as exc:  # different model versions or array shapes
        raise _invalid("voices_not_mixable", f"These voices cannot be mixed: {exc}") from None
    except OSError:  # a stored conditioning went missing: the operator must rebuild that voice
        raise ServiceError(
            code="voice_not_ready",
            message="A voice's computed data is missing from storage; rebuild it, then mix.",
        ) from None
    voice_slots_check(owner)
    total = sum(float(weight) for _, weight in items)
    sources = [
        {"id": str(voice.code), "name": voice.name, "weight": round(float(weight) / total, 6)}
        for voice, weight in items
    ]
    voice = voice_insert(
        owner,
        name=name,
        description=description or "",
        language=language,
        labels=labels,
        engine=mixed.engine,
        status=Voice.Status.BUILDING,
        mix_sources=sources,
    )
    voice.conditioning.save("conditioning.npz", ContentFile(mixed.to_npz_bytes()), save=False)
    name_saved = voice.conditioning.name
    voice.conditioning_version = mixed.engine_version
    voice.status = Voice.Status.READY
    try:
        voice.save()
    except BaseException:
        voice.conditioning.storage.delete(name_saved)
        raise
    audit_record(
        action="voices.voice.mixed",
        request=request,
        user=owner,
        api_key=api_key,
        target=voice,
        data={"sources": sources},
    )
    return voice
