"""Checking a synthesis request before anything is written (used by jobs and batches).

Every refusal is a ValidationError with a `.code` the API shows (empty_text, text_too_long,
unsupported_language, unsupported_format, unsupported_sample_rate, invalid_parameters,
voice_not_ready), or Voice.DoesNotExist for a voice the requester may not use.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import status

from config.api import ApiError
from synthesis.engines.base import SynthesisParams
from voices.models import Voice

OUTPUT_FORMATS = ("wav", "mp3", "opus", "aac", "flac", "pcm")


def text_validated(*, text: str, language: str, output_format: str, params: dict) -> tuple:
    from synthesis.jobs.text import SUPPORTED_LANGUAGES, normalize_text, resolve_language

    if not text or not text.strip():
        raise ValidationError("Text is empty.", code="empty_text")
    if len(text) > settings.SYNTHESIS_MAX_CHARACTERS:
        raise ValidationError(
            f"Text is {len(text)} characters; the limit is {settings.SYNTHESIS_MAX_CHARACTERS}.",
            code="text_too_long",
        )
    try:
        language = resolve_language(language)
    except ValueError:
        raise ValidationError(
            f"Unsupported language {language!r}; use one of: {', '.join(SUPPORTED_LANGUAGES)}.",
            code="unsupported_language",
        ) from None
    if output_format not in OUTPUT_FORMATS:
        raise ValidationError(
            f"Unsupported format {output_format!r}; use one of: {', '.join(OUTPUT_FORMATS)}.",
            code="unsupported_format",
        )
    try:
        checked = SynthesisParams(**params).validate()
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Invalid parameters: {exc}", code="invalid_parameters") from None
    text = normalize_text(text)
    if not text.strip():  # nothing speakable left once control characters are gone
        raise ValidationError("Text is empty.", code="empty_text")
    return text, language, checked


# The rate each engine generates at (what a stream job pushes to its channel).
ENGINE_SAMPLE_RATES = {"xtts": 24_000, "piper": 22_050}


def engine_sample_rate(voice: Voice) -> int:
    return ENGINE_SAMPLE_RATES.get(voice.engine, 24_000)


def sample_rate_check(*, voice: Voice, output_format: str, sample_rate: int) -> None:
    from synthesis.jobs.encoding import EncodingError, check_options

    try:
        check_options(
            fmt=output_format, sample_rate_in=engine_sample_rate(voice), sample_rate_out=sample_rate
        )
    except EncodingError as exc:
        raise ValidationError(str(exc), code="unsupported_sample_rate") from None


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
