"""Checking a synthesis request before anything is written (jobs, streams and batches).

Everything engine-specific comes from the voice's engine facts (`synthesis.engines`): its
languages, sample rate and parameters. Site-wide default parameters
(settings.SYNTHESIS_DEFAULT_PARAMS) apply here, so they hold on every surface.

Every refusal is a ValidationError with a `.code` the API shows (empty_text, text_too_long,
unsupported_language, unsupported_format, unsupported_sample_rate, invalid_parameters,
voice_not_ready), or Voice.DoesNotExist for a voice the requester may not use.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from rest_framework import status

from config.api import ApiError
from synthesis.engines import EngineFacts, SynthesisParams, engine_facts
from synthesis.jobs.encoding import FORMATS, EncodingError, check_options
from synthesis.jobs.text import normalize_text
from voices.models import Voice
from voices.selectors import cloning_engine

OUTPUT_FORMATS = tuple(FORMATS)  # the one table of formats is synthesis.jobs.encoding.FORMATS


@dataclass(frozen=True)
class CheckedRequest:
    text: str
    language: str
    output_format: str
    sample_rate: int
    params: SynthesisParams


def voice_engine(voice: Voice) -> EngineFacts:
    """The facts of the engine that speaks `voice` (a voice not built yet: the cloning one)."""
    if voice.engine:
        return engine_facts(voice.engine)
    cloning = cloning_engine()
    if cloning is None:
        raise ValidationError("No installed engine clones voices.", code="voice_not_ready")
    return cloning


def voice_sample_rate(voice: Voice) -> int:
    """The rate the voice's engine generates at (a job's default output rate)."""
    return voice_engine(voice).sample_rate


def request_checked(
    *,
    owner,
    voice: Voice,
    text: str,
    language: str = "",
    output_format: str = "mp3",
    sample_rate: int | None = None,
    params: dict | None = None,
) -> CheckedRequest:
    """One request, checked against the voice's engine; defaults filled from the voice."""
    voice_check(owner=owner, voice=voice)
    if not text or not text.strip():
        raise ValidationError("Text is empty.", code="empty_text")
    if len(text) > settings.SYNTHESIS_MAX_CHARACTERS:
        raise ValidationError(
            f"Text is {len(text)} characters; the limit is {settings.SYNTHESIS_MAX_CHARACTERS}.",
            code="text_too_long",
        )
    facts = voice_engine(voice)
    try:
        default = facts.languages[0] if facts.languages else ""
        language = facts.resolve_language(
            language or voice.language or default, voice_language=voice.language
        )
    except ValueError as exc:
        raise ValidationError(str(exc), code="unsupported_language") from None
    if output_format not in FORMATS:
        raise ValidationError(
            f"Unsupported format {output_format!r}; use one of: {', '.join(FORMATS)}.",
            code="unsupported_format",
        )
    sample_rate = sample_rate or default_sample_rate(facts, output_format)
    try:
        check_options(
            fmt=output_format, sample_rate_in=facts.sample_rate, sample_rate_out=sample_rate
        )
    except EncodingError as exc:
        raise ValidationError(str(exc), code="unsupported_sample_rate") from None
    try:
        checked = facts.params_checked({**site_default_params(facts), **(params or {})})
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Invalid parameters: {exc}", code="invalid_parameters") from None
    text = normalize_text(text)
    if not text.strip():  # nothing speakable left once control characters are gone
        raise ValidationError("Text is empty.", code="empty_text")
    return CheckedRequest(text, language, output_format, sample_rate, checked)


def default_sample_rate(facts: EngineFacts, output_format: str) -> int:
    """The engine's own rate, or the nearest rate the format takes (opus: 8-48 kHz steps)."""
    allowed = FORMATS[output_format].sample_rates
    if not allowed or facts.sample_rate in allowed:
        return facts.sample_rate
    return min(allowed, key=lambda rate: (rate < facts.sample_rate, abs(rate - facts.sample_rate)))


def site_default_params(facts: EngineFacts) -> dict:
    """settings.SYNTHESIS_DEFAULT_PARAMS, limited to what this engine accepts."""
    defaults = getattr(settings, "SYNTHESIS_DEFAULT_PARAMS", None) or {}
    if not isinstance(defaults, dict):
        raise ImproperlyConfigured(
            'SYNTHESIS_DEFAULT_PARAMS must be a JSON object, e.g. {"temperature": 0.7}.'
        )
    return facts.params_supported(defaults)


def voice_check(*, owner, voice: Voice) -> None:
    if not voice.is_stock and voice.owner_id != owner.pk:
        raise Voice.DoesNotExist  # a stranger's voice does not exist for this owner
    if voice.status != Voice.Status.READY:
        raise ValidationError(
            f"Voice {voice.name!r} is not ready (it is {voice.status}).", code="voice_not_ready"
        )


def request_fingerprint(**request) -> str:
    """A digest of a validated request, to tell a retry from a new request under one key."""
    body = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def idempotency_conflict() -> ApiError:
    return ApiError(
        code="idempotency_key_reused",
        message="This Idempotency-Key was already used for a different request; send a new "
        "key for a new request (a retry must repeat the same body).",
        status_code=status.HTTP_409_CONFLICT,
    )
