"""ElevenLabs' POST /v1/text-to-speech/{voice_id}/with-timestamps (the SDK's
`text_to_speech.convert_with_timestamps`): the whole audio base64-encoded, with character timings.

The request is a stream job made with timestamps (synthesis.jobs.alignment): its audio and its
per-chunk alignment events are read from the stream channel until the job ends, then answered
at once. `normalized_alignment` is over the normalised text the engine spoke
(synthesis.jobs.text.normalize_text); `alignment` over the text as sent, its times carried over
character by character (expanded or dropped characters share their neighbours' times).
"""

from __future__ import annotations

import base64
import logging

from django.conf import settings
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from config.api import ApiError
from synthesis.api.responses import quota_headers
from synthesis.compat.common import (
    ElevenLabsView,
)
from synthesis.compat.elevenlabs import tts_job_start
from synthesis.jobs import alignment, services
from synthesis.jobs.encoding import EncodingError
from synthesis.jobs.streaming import StreamFailed, StreamTimeout, collect_encoded
from synthesis.jobs.text import normalize_text

logger = logging.getLogger(__name__)


class TextToSpeechWithTimestamps(ElevenLabsView):
    required_scope = "tts"
    parser_classes = [JSONParser]

    def post(self, request, voice_id):
        job, options, data = tts_job_start(request, voice_id, timestamps=True)
        audio, events, samples = _collected(request, job, options)
        response = Response(
            with_timestamps_body(
                audio,
                events,
                text=data["text"],
                spoken=job.text,
                duration=samples / options.sample_rate_in,
            )
        )
        response["history-item-id"] = response["request-id"] = str(job.code)
        quota_headers(response, user=request.user, cost=job.characters)
        return response


def with_timestamps_body(
    audio: bytes, events: list[dict], *, text: str, spoken: str, duration: float
) -> dict:
    """ElevenLabs' AudioWithTimestampsResponse from the audio and the stream's events; `text`
    as the client sent it, `spoken` the job's (checked) text the pipeline split."""
    normalized = normalize_text(spoken)
    document = alignment.document_from_events(events, normalized=normalized, duration=duration)
    spoken, starts, ends = alignment.full_text_alignment(document)
    original_starts, original_ends = alignment.original_text_alignment(document, text)
    return {
        "audio_base64": base64.b64encode(audio).decode("ascii"),
        "alignment": _alignment(text, original_starts, original_ends),
        "normalized_alignment": _alignment(spoken, starts, ends),
    }


def _alignment(text: str, starts: list[float], ends: list[float]) -> dict:
    return {
        "characters": list(text),
        "character_start_times_seconds": [round(t, 3) for t in starts],
        "character_end_times_seconds": [round(t, 3) for t in ends],
    }


def _collected(request, job, options):
    """(audio, events, samples) of the finished job; the error the client should see if not."""
    if getattr(job, "dispatch_failed", False):
        _cancel(job, request.user)
        raise _unavailable(
            "The job queue is unavailable right now (the broker cannot be reached); the "
            "request was cancelled and not charged. Retry in a moment."
        )
    try:
        return collect_encoded(
            str(job.code),
            fmt=options.format.name,
            sample_rate_in=options.sample_rate_in,
            sample_rate_out=options.sample_rate_out,
            bitrate=options.bitrate,
            first_timeout=settings.SYNTHESIS_STREAM_FIRST_TIMEOUT,
        )
    except StreamFailed as exc:  # the worker failed the job (and refunded it)
        raise _failed("synthesis_failed", str(exc)) from None
    except EncodingError as exc:
        _cancel(job, request.user)
        raise _failed("encoding_failed", str(exc)) from None
    except StreamTimeout:
        _cancel(job, request.user)
        raise _unavailable(
            "No synthesis worker produced audio in time; the job was cancelled and not "
            "charged. The operator must start one (celery -A config worker -Q synthesis)."
        ) from None


def _failed(code: str, message: str) -> ApiError:
    return ApiError(code=code, message=message, status_code=status.HTTP_502_BAD_GATEWAY)


def _unavailable(message: str) -> ApiError:
    return ApiError(
        code="synthesis_unavailable",
        message=message,
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def _cancel(job, user) -> None:
    try:
        services.job_cancel(job=job, user=user)
    except Exception:  # it ended meanwhile, or the database blinked: nothing left to undo
        logger.info("Job %s could not be cancelled", job.code, exc_info=True)
