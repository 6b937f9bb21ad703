"""Reads for the voices app. Every queryset a user can reach goes through `visible_to`."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from config.service_errors import ServiceError
from synthesis.engines import EngineFacts, UnknownEngine, engine_facts, engine_for_model, engines
from voices.models import Consent, Sample, Voice, VoiceConditioning

LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "pl": "Polish",
    "zh-cn": "Chinese (Mandarin)",
    "ar": "Arabic",
    "cs": "Czech",
    "ru": "Russian",
    "nl": "Dutch",
    "tr": "Turkish",
    "ja": "Japanese",
    "hu": "Hungarian",
    "ko": "Korean",
    "hi": "Hindi",
}


def visible_to(queryset: QuerySet, user) -> QuerySet:
    """The one ownership rule of this app: people see their own rows, everyone sees stock voices.

    Anything else does not exist for them: views answer 404, never 403, so a stranger cannot
    even learn that an id is in use.
    """
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    rule = Q(owner=user)
    if queryset.model is Voice:
        rule |= Q(is_stock=True)
    return queryset.filter(rule)


def _get_visible(queryset: QuerySet, user, code) -> object:
    return get_object_or_404(visible_to(queryset, user), code=code)


def sample_list(*, user, purpose: str | None = Sample.Purpose.VOICE) -> QuerySet:
    samples = visible_to(Sample.objects.select_related("voice"), user)
    return samples.filter(purpose=purpose) if purpose else samples


def sample_get(*, user, code) -> Sample:
    return _get_visible(Sample.objects.select_related("voice"), user, code)


def sample_ready_choices(*, user) -> QuerySet:
    """Ready voice samples not yet used by a voice: what a new voice can be made from."""
    return sample_list(user=user).filter(status=Sample.Status.READY, voice__isnull=True)


def _voices_with_details() -> QuerySet:
    samples = Sample.objects.filter(purpose=Sample.Purpose.VOICE).order_by("created_at", "id")
    return Voice.objects.select_related("owner", "consent", "consent__recording").prefetch_related(
        Prefetch("samples", queryset=samples), "conditionings"
    )


def voice_list(*, user, include_stock: bool = True) -> QuerySet:
    voices = visible_to(_voices_with_details(), user)
    if not include_stock:
        voices = voices.filter(is_stock=False)
    return voices.order_by("is_stock", "name", "id")


def voice_mixable(*, user) -> QuerySet:
    """The user's own ready, unblocked voices: what a mix can be made of."""
    voices = voice_list(user=user, include_stock=False)
    return voices.filter(status=Voice.Status.READY, blocked_at__isnull=True).exclude(
        conditioning=""
    )


def voice_get(*, user, code) -> Voice:
    return _get_visible(_voices_with_details(), user, code)


def voice_find(*, user, reference, by_name: bool = True) -> Voice:
    """The one way every surface finds a voice the user may use: by its public id, else (with
    `by_name`) by name, case-insensitively, the user's own voices before stock voices and an
    exact-case match before other spellings.

    ServiceError 404 `voice_not_found`, or 400 `voice_ambiguous` when two voices rank alike.
    """
    value = str(reference).strip()
    try:
        return voice_get(user=user, code=uuid.UUID(value))
    except (ValueError, Http404):
        pass
    ranked = []
    if by_name and value:
        matches = voice_list(user=user).filter(name__iexact=value)
        ranked = sorted(matches, key=lambda v: (v.is_stock, v.name != value, v.pk))
    if not ranked:
        raise ServiceError(
            "voice_not_found",
            f"No voice {value!r} among your voices and the stock voices "
            "(list them with GET /api/v1/voices, or GET /v1/voices on the compatible APIs).",
        )
    rank = (ranked[0].is_stock, ranked[0].name != value)
    if len(ranked) > 1 and (ranked[1].is_stock, ranked[1].name != value) == rank:
        raise ServiceError(
            "voice_ambiguous",
            f"More than one voice is named like {value!r}; use its id or exact name.",
            details={"ids": [str(v.code) for v in ranked]},
        )
    return ranked[0]


def voice_blocked_error(voice: Voice) -> ServiceError:
    return ServiceError(
        "voice_blocked",
        f"Voice {voice.name!r} was blocked by an administrator and cannot be used: "
        f"{voice.blocked_reason or 'no reason was given'}",
        details={
            "voice": str(voice.code),
            "reason": voice.blocked_reason,
            "blocked_at": voice.blocked_at.isoformat() if voice.blocked_at else None,
        },
    )


def voice_usable_check(voice: Voice) -> None:
    """The one rule every use of a voice goes through (synthesis requests on every surface,
    batches, mixes, a worker picking up a queued job): a blocked voice is refused with
    ServiceError 403 `voice_blocked`, whose message carries the admin's reason."""
    if voice.blocked_at is not None:
        raise voice_blocked_error(voice)


def voice_slots_used(*, user) -> int:
    """Voices that count against the plan's voice_slots: every voice the user owns except
    failed ones. A build that failed (engine unavailable, timeout) must not hold a slot for
    ever; retrying it (`voice_build_retry`) takes a slot again, through the same check."""
    return (
        Voice.objects.filter(owner=user, is_stock=False).exclude(status=Voice.Status.FAILED).count()
    )


def consent_get(*, user, code) -> Consent:
    return _get_visible(Consent.objects.select_related("recording", "voice"), user, code)


def default_model() -> EngineFacts | None:
    """The default cloning model: TIMBRE_DEFAULT_MODEL (an engine name or model id), else
    VOICES_CLONING_ENGINE, else the first installed engine that clones; None when no installed
    engine clones. New voices are built for it, and a request that names no model is spoken by
    it when its voice is built for it."""
    for setting in ("TIMBRE_DEFAULT_MODEL", "VOICES_CLONING_ENGINE"):
        name = getattr(settings, setting, "")
        if not name:
            continue
        facts = engine_for_model(name)
        if facts is None or not facts.clones:
            cloning = [f.name for f in engines().values() if f.clones]
            raise ImproperlyConfigured(
                f"{setting}={name!r} names no installed cloning engine; set it to one of "
                f"{', '.join(cloning) or '(none: add a cloning engine to TIMBRE_ENGINES)'}."
            )
        return facts
    return next((facts for facts in engines().values() if facts.clones), None)


def cloning_engine() -> EngineFacts | None:
    """The engine new cloned voices are built with: the default model (`default_model`)."""
    return default_model()


def cloning_engine_names() -> list[str]:
    """The installed engines a voice can be built for."""
    return [name for name, facts in engines().items() if facts.clones]


def voice_engines_ready(voice: Voice) -> list[str]:
    """The engines that can speak `voice` now: its first engine when the voice is ready, and
    each further engine whose conditioning is ready (`Voice.conditionings`)."""
    names = [voice.engine] if voice.status == Voice.Status.READY and voice.engine else []
    for row in voice.conditionings.all():
        if row.status == VoiceConditioning.Status.READY and row.engine not in names:
            names.append(row.engine)
    return names


def voice_engine_list(voice: Voice) -> list[dict]:
    """Every engine `voice` is built for (or being built for), first engine first, with its
    status and the model's licence: what the voice API and page show."""
    rows = [(voice.engine, voice.status, voice.failure_reason, True)] if voice.engine else []
    rows += [
        (row.engine, row.status, row.failure_reason, False)
        for row in voice.conditionings.all()
        if row.engine != voice.engine
    ]
    listed = []
    for name, status, reason, primary in rows:
        try:
            facts = engine_facts(name)
        except UnknownEngine:  # no longer installed (e.g. turned off by the operator)
            facts = None
        listed.append(
            {
                "engine": name,
                "model_id": facts.model_id if facts else name,
                "label": facts.label if facts else name,
                "status": status if facts else "unavailable",
                "failure_reason": reason,
                "primary": primary,
                "commercial_use": facts.commercial_use if facts else False,
                "licence": facts.licence if facts else "",
            }
        )
    return listed


# Whether voice cloning works right now is known to the synthesis workers (their published
# engine status), which this app must not import: synthesis registers its reader at start-up.
_cloning_status_reader = None


def cloning_status_register(reader) -> None:
    """`reader()` returns an object with `ready`, `reason` and `fix` (synthesis.workers.status
    .cloning_summary); registered by synthesis.apps."""
    global _cloning_status_reader
    _cloning_status_reader = reader


def cloning_status():
    """The registered reader's answer, or None when nothing can tell (then pages do not block)."""
    return _cloning_status_reader() if _cloning_status_reader is not None else None


def language_list() -> list[dict]:
    """Every language some installed engine speaks, with the engines that speak it.

    `char_limit` is the cloning engine's limit for the language (else the first engine's)."""
    found: dict[str, dict] = {}
    cloning = cloning_engine()
    ordered = sorted(engines().values(), key=lambda facts: facts is not cloning)
    for facts in ordered:
        for code, limit in facts.char_limits.items():
            entry = found.setdefault(
                code,
                {"code": code, "name": LANGUAGE_NAMES.get(code, code), "char_limit": limit},
            )
            entry.setdefault("engines", []).append(facts.name)
    return list(found.values())


def consent_is_expired(consent) -> bool:
    """A consent phrase may be recorded only until it expires."""
    return timezone.now() >= consent.expires_at
