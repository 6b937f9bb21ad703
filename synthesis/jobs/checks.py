"""Checking a synthesis request before anything is written (jobs, streams and batches).

Everything engine-specific comes from the voice's engine facts (`synthesis.engines`): its
languages, sample rate and parameters. Site-wide default parameters
(settings.SYNTHESIS_DEFAULT_PARAMS) apply here, so they hold on every surface.

Every refusal is a ServiceError (config.service_errors) whose code the surfaces show:
empty_text, text_too_long, unsupported_language, unsupported_format, unsupported_sample_rate,
unsupported_bitrate, invalid_parameters, voice_not_ready, voice_not_found (a voice the
requester may not use).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.service_errors import ServiceError
from synthesis.engines import EngineFacts, SynthesisParams, engine_facts
from synthesis.jobs.encoding import FORMATS, EncodingError, check_options
from synthesis.jobs.text import normalize_text
from voices.models import Voice
from voices.selectors import cloning_engine, voice_usable_check

OUTPUT_FORMATS = tuple(FORMATS)  # the one table of formats is synthesis.jobs.encoding.FORMATS


@dataclass(frozen=True)
class CheckedRequest:
    text: str
    language: str
    output_format: str
    sample_rate: int
    params: SynthesisParams
    bitrate: int | None = None  # bits/s the client asked for (None: the format's default)


def voice_engine(voice: Voice) -> EngineFacts:
    """The facts of the engine that speaks `voice` (a voice not built yet: the cloning one)."""
    if voice.engine:
        return engine_facts(voice.engine)
    cloning = cloning_engine()
    if cloning is None:
        raise ServiceError(
            code="voice_not_ready",
            message="No installed engine clones voices.",
        )
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
    bitrate: int | None = None,
) -> CheckedRequest:
    """One request, checked against the voice's engine; defaults filled from the voice."""
    voice_check(owner=owner, voice=voice)
    if not text or not text.strip():
        raise ServiceError(
            code="empty_text",
            message="Text is empty.",
        )
    if len(text) > settings.SYNTHESIS_MAX_CHARACTERS:
        raise ServiceError(
            code="text_too_long",
            message=f"Text is {len(text)} characters; "
            f"the limit is {settings.SYNTHESIS_MAX_CHARACTERS}.",
        )
    facts = voice_engine(voice)
    try:
        default = facts.languages[0] if facts.languages else ""
        language = facts.resolve_language(
            language or voice.language or default, voice_language=voice.language
        )
    except ValueError as exc:
        raise ServiceError(
            code="unsupported_language",
            message=str(exc),
        ) from None
    if output_format not in FORMATS:
        raise ServiceError(
            code="unsupported_format",
            message=f"Unsupported format {output_format!r}; use one of: {', '.join(FORMATS)}.",
        )
    sample_rate = sample_rate or default_sample_rate(facts, output_format)
    try:
        check_options(
            fmt=output_format, sample_rate_in=facts.sample_rate, sample_rate_out=sample_rate
        )
    except EncodingError as exc:
        raise ServiceError(
            code="unsupported_sample_rate",
            message=str(exc),
        ) from None
    if bitrate is not None:
        bitrate = _bitrate_checked(facts, output_format, sample_rate, bitrate)
    try:
        checked = facts.params_checked({**site_default_params(facts), **(params or {})})
    except (TypeError, ValueError) as exc:
        raise ServiceError(
            code="invalid_parameters",
            message=f"Invalid parameters: {exc}",
        ) from None
    text = normalize_text(text)
    if not text.strip():  # nothing speakable left once control characters are gone
        raise ServiceError(
            code="empty_text",
            message="Text is empty.",
        )
    return CheckedRequest(text, language, output_format, sample_rate, checked, bitrate)


def _bitrate_checked(facts: EngineFacts, output_format: str, sample_rate: int, bitrate) -> int:
    try:
        options = check_options(
            fmt=output_format,
            sample_rate_in=facts.sample_rate,
            sample_rate_out=sample_rate,
            bitrate=bitrate,
        )
    except EncodingError as exc:
        raise ServiceError(code="unsupported_bitrate", message=str(exc)) from None
    return options.bitrate


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
        # A stranger's voice does not exist for this owner.
        raise ServiceError("voice_not_found", "No such voice among yours and the stock voices.")
    voice_usable_check(voice)  # 403 voice_blocked
    if voice.status != Voice.Status.READY:
        message = f"Voice {voice.name!r} is not ready (it is {voice.status})."
        if voice.failure_reason and voice.status != Voice.Status.BUILDING:
            message += " " + voice.failure_reason
        raise ServiceError(code="voice_not_ready", message=message)


def request_fingerprint(**request) -> str:
    """A digest of a validated request, to tell a retry from a new request under one key."""
    body = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def idempotency_conflict() -> ServiceError:
    return ServiceError(
        code="idempotency_key_reused",
        message="This Idempotency-Key was already used for a different request; send a new "
        "key for a new request (a retry must repeat the same body).",
    )
