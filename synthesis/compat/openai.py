"""OpenAI-compatible speech: POST /v1/audio/speech, GET /v1/audio/voices, GET /v1/models.

Point an OpenAI client at `<site>/v1` with a Timbre API key (scope `tts`) and name one of your
voices (or a stock voice) as `voice`. Audio is streamed while the worker generates it, always
at 24 kHz (what OpenAI clients assume, for pcm in particular); flac comes whole once the audio
is complete, so that its header carries the length (synthesis.jobs.encoding.StreamEncoder).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from config.api import ApiError
from synthesis.api.catalog import model_list
from synthesis.api.responses import (
    AsyncJobAudioStream,
    JobAudioStream,
    job_stream_body,
    quota_headers,
    streaming_response,
)
from synthesis.compat import serializers as s
from synthesis.compat.common import (
    ANY_SCOPE_PERMISSIONS,
    CompatView,
    encode_options,
    job_params,
    job_start,
    no_retry_on_failure,
    stream_answer,
    valid,
)
from synthesis.compat.elevenlabs import eleven_models
from synthesis.jobs import catalog
from synthesis.models import SynthesisJob
from voices import selectors as voice_selectors

OUTPUT_SAMPLE_RATE = 24_000
# A fixed "created" for the model list: the models are aliases, not trained artefacts.
MODELS_CREATED = 1_735_689_600  # 2025-01-01T00:00:00Z
SPEECH_ERROR_CODES = {
    "model": "unsupported_model",
    "response_format": "unsupported_format",
    "speed": "invalid_speed",
    "voice": "invalid_voice",
}


class Speech(CompatView):
    """POST /v1/audio/speech → the audio (or SSE events with base64 audio) as it is made."""

    required_scope = "tts"
    parser_classes = [JSONParser]

    def post(self, request):
        data = valid(s.SpeechInput, request.data, codes=SPEECH_ERROR_CODES)
        voice = voice_selectors.voice_find(user=request.user, reference=data["voice"])
        engine = catalog.model_engine(data["model"], surface=catalog.OPENAI, field="model")
        fmt = data["response_format"]
        options = encode_options(voice, fmt=fmt, sample_rate=OUTPUT_SAMPLE_RATE, engine=engine)
        job = job_start(
            request,
            voice=voice,
            text=data["input"],
            language="",
            options=options,
            params=job_params(speed=data.get("speed")),
            engine=engine,
        )
        if data["stream_format"] == "sse":
            return _sse_answer(request, job, options)
        return stream_answer(request, job, options, content_type=s.OPENAI_CONTENT_TYPES[fmt])


def _sse_answer(request, job: SynthesisJob, options):
    body = job_stream_body(
        request,
        job,
        fmt=options.format.name,
        sample_rate_in=options.sample_rate_in,
        sample_rate_out=options.sample_rate_out,
        bitrate=options.bitrate,
    )
    if (error := body.open()) is not None:
        return no_retry_on_failure(error)
    events = _sse_events_async(body, job) if body.is_async else _sse_events(body, job)
    response = streaming_response(events, job=job, content_type="text/event-stream")
    quota_headers(response, user=request.user, cost=job.characters)
    return response


def _event(payload: dict) -> bytes:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def _audio_event(piece: bytes) -> bytes:
    return _event({"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()})


def _last_event(job: SynthesisJob) -> bytes:
    """speech.audio.done, or an error event when the audio ended early (the job reloaded)."""
    if job.status == SynthesisJob.Status.FAILED or job.cancel_requested:
        message = job.error or "The audio stopped before the end; the job was cancelled."
        return _event({"type": "error", "error": {"code": "synthesis_failed", "message": message}})
    # Timbre counts characters, not tokens; clients read these as the request's size.
    usage = {"input_tokens": job.characters, "output_tokens": 0}
    usage["total_tokens"] = job.characters
    return _event({"type": "speech.audio.done", "usage": usage})


def _sse_events(body: JobAudioStream, job: SynthesisJob) -> Iterator[bytes]:
    """OpenAI's speech events: speech.audio.delta (base64 audio) ..., then speech.audio.done,
    or an error event when the audio ended early."""
    try:
        for piece in body:
            yield _audio_event(piece)
        job.refresh_from_db(fields=["status", "error", "cancel_requested"])
        yield _last_event(job)
    finally:
        body.close()


async def _sse_events_async(body: AsyncJobAudioStream, job: SynthesisJob) -> AsyncIterator[bytes]:
    """_sse_events under ASGI: read on the event loop, holding no thread."""
    try:
        async for piece in body:
            yield _audio_event(piece)
        await sync_to_async(job.refresh_from_db)(fields=["status", "error", "cancel_requested"])
        yield _last_event(job)
    finally:
        await body.aclose()


class VoiceList(CompatView):
    """GET /v1/audio/voices: your voices and the stock voices, OpenAI's list shape."""

    permission_classes = ANY_SCOPE_PERMISSIONS
    any_scope = ("tts", "voices:read")

    def get(self, request):
        voices = voice_selectors.voice_list(user=request.user)
        return Response({"object": "list", "data": [s.openai_voice(v) for v in voices]})


class ModelList(CompatView):
    """GET /v1/models: OpenAI's list shape; ElevenLabs clients (xi-api-key) get theirs.
    The names are the enabled aliases and the engines' model ids (synthesis.jobs.catalog); each
    entry also carries Timbre's description (engine, languages, licence, loaded, default)."""

    def get(self, request):
        if request.headers.get("xi-api-key"):
            return Response(eleven_models())
        models = [_openai_model(entry) for entry in model_list(surface=catalog.OPENAI)]
        return Response({"object": "list", "data": models})


class ModelDetail(CompatView):
    """GET /v1/models/{model} (the SDK's models.retrieve); 404 in OpenAI's shape when unknown."""

    def get(self, request, model):
        listed = {e["model_id"]: e for e in model_list(surface=catalog.OPENAI)}
        if model not in listed:
            raise ApiError(
                code="model_not_found",
                message=f"The model {model!r} does not exist here; GET /v1/models lists them.",
                status_code=status.HTTP_404_NOT_FOUND,
            )
        return Response(_openai_model(listed[model]))


def _openai_model(entry: dict) -> dict:
    """OpenAI's model object, then Timbre's own keys (the SDK keeps extra keys)."""
    base = {"id": entry["model_id"], "object": "model", "created": MODELS_CREATED}
    return {**base, "owned_by": "timbre", **entry}
