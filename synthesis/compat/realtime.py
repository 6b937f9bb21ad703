"""ElevenLabs' POST /v1/text-to-speech/{voice_id}/stream/with-timestamps (the SDK's
`text_to_speech.stream_with_timestamps`): audio and character timings while they are made.

The answer is newline-delimited JSON, one object per line, as the SDK reads it:
`{"audio_base64": ..., "alignment": {...} | null, "normalized_alignment": {...} | null}`, each
alignment with `characters`, `character_start_times_seconds`, `character_end_times_seconds`.
Times are seconds from the start of this request's audio (not of the line), so a client may
concatenate every line's arrays. A sentence's timings come on the first line after its audio
has been generated (the worker knows them once the sentence is done); the last line may carry
timings with no audio. Both alignments hold the characters the engine spoke (the normalised
text). The request body, query and refusals are those of POST /v1/text-to-speech/{voice_id}
(synthesis.compat.elevenlabs); the job is a stream job with timestamps, kept in the history.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator

from rest_framework.parsers import JSONParser

from synthesis.api.responses import job_stream_body, quota_headers, streaming_response
from synthesis.compat.common import (
    ElevenLabsView,
    no_retry_on_failure,
)
from synthesis.compat.elevenlabs import tts_job_start
from synthesis.compat.stream_text import spaced

NDJSON = "application/x-ndjson"


class TextToSpeechStreamWithTimestamps(ElevenLabsView):
    required_scope = "tts"
    parser_classes = [JSONParser]

    def post(self, request, voice_id):
        job, options, _ = tts_job_start(request, voice_id, timestamps=True)
        body = job_stream_body(
            request,
            job,
            fmt=options.format.name,
            sample_rate_in=options.sample_rate_in,
            sample_rate_out=options.sample_rate_out,
            bitrate=options.bitrate,
            events=True,
        )
        if (error := body.open()) is not None:
            error["X-Synthesis-Job"] = str(job.code)
            quota_headers(error, user=request.user)
            return no_retry_on_failure(error)
        lines = _lines_async(body) if body.is_async else _lines(body)
        response = streaming_response(lines, job=job, content_type=NDJSON)
        quota_headers(response, user=request.user, cost=job.characters)
        response["history-item-id"] = response["request-id"] = str(job.code)
        return response


class _Timings:
    """Alignment events waiting for the next line."""

    def __init__(self):
        self.pending: list[dict] = []
        self.last_char = " "

    def line(self, audio: bytes) -> bytes:
        alignment = None
        if self.pending:
            triples = []
            for event in self.pending:
                triples += spaced(event, after=self.last_char)
                self.last_char = triples[-1][0] if triples else self.last_char
            alignment = {
                "characters": [char for char, _, _ in triples],
                "character_start_times_seconds": [round(start, 4) for _, start, _ in triples],
                "character_end_times_seconds": [round(end, 4) for _, _, end in triples],
            }
            self.pending = []
        chunk = {
            "audio_base64": base64.b64encode(audio).decode(),
            "alignment": alignment,
            "normalized_alignment": alignment,
        }
        return json.dumps(chunk, separators=(",", ":")).encode() + b"\n"

    def take(self, item: bytes | dict) -> bytes | None:
        if isinstance(item, dict):
            if item.get("type") == "alignment":
                self.pending.append(item)
            return None
        return self.line(item)


def _lines(body) -> Iterator[bytes]:
    timings = _Timings()
    try:
        for item in body:
            if (line := timings.take(item)) is not None:
                yield line
        if timings.pending:
            yield timings.line(b"")
    finally:
        body.close()


async def _lines_async(body) -> AsyncIterator[bytes]:
    """_lines under ASGI: read on the event loop, holding no thread."""
    timings = _Timings()
    try:
        async for item in body:
            if (line := timings.take(item)) is not None:
                yield line
        if timings.pending:
            yield timings.line(b"")
    finally:
        await body.aclose()
