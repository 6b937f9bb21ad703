"""Checking a synthesis request before anything is written (jobs, streams and batches).

Everything engine-specific comes from the facts (`synthesis.engines`) of the engine that speaks
the request: the one the request names (its model), among the engines its voice is built for,
else the default model or the voice's own (`job_engine_resolve`): languages, sample rate and
parameters. Site-wide default parameters
(settings.SYNTHESIS_DEFAULT_PARAMS) apply here, so they hold on every surface.

Every refusal is a ServiceError (config.service_errors) whose code the surfaces show:
empty_text, text_too_long, unsupported_language, unsupported_format, unsupported_sample_rate,
unsupported_bitrate, invalid_parameters, voice_not_ready, voice_not_found (a voice the
requester may not use), model_not_available (an engine the voice is not built for).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.service_errors import ServiceError
from synthesis.engines import (
    EngineFacts,
    SynthesisParams,
    UnknownEngine,
    engine_facts,
    engine_for_model,
)
from synthesis.jobs.encoding import FORMATS, EncodingError, check_options
from synthesis.jobs.text import normalize_text
from voices.models import Voice
from voices.selectors import (
    cloning_engine,
    default_model,
    voice_engines_ready,
    voice_usable_check,
)

OUTPUT_FORMATS = tuple(FORMATS)  # the one table of formats is synthesis.jobs.encoding.FORMATS


@dataclass(frozen=True)
class CheckedRequest:
    text: str
    language: str
    output_format: str
    sample_rate: int
    params: SynthesisParams
    bitrate: int | None = None  # bits/s the client asked for (None: the format's default)
    engine: str = ""  # the engine that speaks it (job_engine_resolve)


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


def job_engine_resolve(voice: Voice, engine: str = "") -> EngineFacts:
    """The engine that speaks a request for `voice`: `engine` (an engine name or model id)
    when the voice is built for it; "" (no model named): the default model when the voice is
    built for it, else the voice's own (first) engine. Stock voices speak only with their own.

    ServiceError 400 `model_not_available` when the voice is not built for that engine; its
    message names the voice's engines and how to add one.
    """
    if not engine:
        default = _default_or_none()
        if default is not None and default.name in voice_engines_ready(voice):
            return default
        try:
            return voice_engine(voice)
        except UnknownEngine:  # its engine was turned off: another one it is built for, if any
            ready = [name for name in voice_engines_ready(voice) if _installed(name)]
            if ready:
                return engine_facts(ready[0])
            raise _model_not_available(voice, voice.engine) from None
    facts = engine_for_model(str(engine).strip())
    if facts is None or facts.name not in voice_engines_ready(voice):
        raise _model_not_available(voice, engine)
    return facts


def job_engine_facts(job) -> EngineFacts:
    """The facts of the engine a job was accepted for (blank on old jobs: the voice's)."""
    if job.engine:
        return engine_facts(job.engine)
    return voice_engine(job.voice)


def _default_or_none() -> EngineFacts | None:
    try:
        return default_model()
    except ImproperlyConfigured:
        return None


def _installed(name: str) -> bool:
    try:
        engine_facts(name)
    except UnknownEngine:
        return False
    return True


def _model_not_available(voice: Voice, engine: str) -> ServiceError:
    ready = [name for name in voice_engines_ready(voice) if _installed(name)]
    models = [engine_facts(name).model_id for name in ready]
    how = (
        "Stock voices speak only with their own engine."
        if voice.is_stock
        else "Add a model to the voice with POST /api/v1/voices/{id}/engines "
        '{"engine": "<name>"} or the "Add a model" button on its page, or use one of its '
        "models."
    )
    return ServiceError(
        code="model_not_available",
        message=f"Voice {voice.name!r} is not built for {engine!r}; it can be spoken by "
        f"{', '.join(models) or 'no installed model'}. {how}",
        details={"voice": str(voice.code), "engine": engine, "engines": ready, "models": models},
    )


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
    engine: str = "",
) -> CheckedRequest:
    """One request, checked against the engine that speaks it (`engine`: a name or model id
    the voice is built for; "": job_engine_resolve's default); defaults filled from the voice."""
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
    facts = job_engine_resolve(voice, engine)
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
    return CheckedRequest(
        text, language, output_format, sample_rate, checked, bitrate, engine=facts.name
    )


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
