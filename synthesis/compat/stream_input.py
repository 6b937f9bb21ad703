"""ElevenLabs' WebSocket text-to-speech input streaming, for voice agents:
wss://<site>/v1/text-to-speech/{voice_id}/stream-input (the SDK's `convert_realtime`).

The client sends text as an LLM produces it; audio comes back while it is generated.

- Query: `model_id`, `output_format` (as the HTTP API; default mp3_44100_128),
  `inactivity_timeout` (seconds, default 20, at most 180), `language_code`, `seed`, `auto_mode`
  (generate at each sentence end instead of following the schedule), `authorization`. Other
  ElevenLabs parameters (sync_alignment, enable_logging, enable_ssml_parsing,
  apply_text_normalization) are accepted and have no effect.
- First message: `{"text": " ", "voice_settings": {...}, "generation_config":
  {"chunk_length_schedule": [...]}, "xi-api-key": ...}`; then `{"text": "...",
  "try_trigger_generation": bool, "flush": bool, "voice_settings": {...}}`; `{"text": ""}` ends
  the input.
- Text is buffered. A generation starts when the buffer holds as many characters as the
  schedule's next entry (default [120, 160, 250, 290], the last repeating; each 50-500), cut
  after the buffer's last space so that no word is split; `flush` generates what is buffered
  now; the end of input generates the rest. `try_trigger_generation` asks for the same schedule
  check every message gets.
- Each generation is a stream job (synthesis.jobs.services.job_create(stream=True,
  timestamps=True)): quota, the plan's concurrency, audit and history as over HTTP, one job at
  a time per connection, in order. A client that goes away cancels (and refunds) the running job.
- Server messages: `{"audio": base64, "isFinal": null, "normalizedAlignment": {...},
  "alignment": {...}}`, then `{"audio": null, "isFinal": true}`, then a close with 1000.
  Alignments carry `chars`, `charStartTimesMs` and `charDurationsMs` (also as
  `charsDurationsMs`, the older documented name). Start times are milliseconds after the end of
  the previous alignment's last character (the first: after the start of the connection's
  audio), so a client that adds each message's last end to a running total, as ElevenLabs
  clients do, places every character on the connection's audio timeline. Both alignments hold
  the characters the engine spoke (the normalised text).
- Keys: the `xi-api-key` header (the SDK), `Authorization: Bearer`, the `authorization` query
  parameter, or `xi-api-key` / `authorization` in the first message; scope `tts`. Each
  connection counts as one API request against the rate limits (RATE_LIMIT_API, _API_KEY).
- Limits: no text for `inactivity_timeout` seconds while nothing is generating, or more than
  STREAM_INPUT_MAX_CHARACTERS characters on one connection, end it (close 1008).
- Refusals: `{"message", "error", "code"}`, then a close: 1008 for the client's error (a bad
  key, an unknown voice, a quota), 1013 for rate and concurrency limits (retry later), 1011 when
  synthesis failed or no worker answered. The SDK raises its ApiError with that body.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import time
import uuid
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from rest_framework import exceptions

from accounts.api.auth import ApiKeyAuthentication
from accounts.ratelimits import api_rate_check
from config.api import ApiError
from config.service_errors import ServiceError, http_status
from synthesis.api.responses import job_cancel_quietly
from synthesis.compat import serializers as s
from synthesis.compat.common import encode_options, job_params
from synthesis.compat.elevenlabs import model_engine, output_format_parse
from synthesis.compat.stream_text import SCHEDULE_RANGE, AlignmentTimeline, TextBuffer
from synthesis.jobs import services
from synthesis.jobs.encoding import EncodingError
from synthesis.jobs.streaming import StreamFailed, StreamTimeout
from synthesis.jobs.streaming_async import EncodedStream
from voices import selectors as voice_selectors

logger = logging.getLogger(__name__)

INACTIVITY_DEFAULT, INACTIVITY_MAX = 20, 180
# Close codes (RFC 6455): the client broke a rule / try again later / the server failed.
POLICY, TRY_LATER, SERVER_ERROR = 1008, 1013, 1011
_END = object()


class Refused(Exception):
    """Ends the connection with {"message", "error", "code"} and a close code."""

    def __init__(self, error: str, message: str, close_code: int = POLICY):
        super().__init__(message)
        self.error, self.message, self.close_code = error, message, close_code


def _refusal(exc: Exception) -> Refused:
    """A service's or an API check's refusal, as the WebSocket says it."""
    if isinstance(exc, ServiceError):
        code, message, status = exc.code, exc.message, http_status(exc.code)
    elif isinstance(exc, ApiError):
        code, message, status = exc.error_code, str(exc.detail), exc.status_code
    elif isinstance(exc, exceptions.APIException):
        code, message, status = exc.default_code, str(exc.detail), exc.status_code
    else:
        raise exc
    close = SERVER_ERROR if status >= 500 else TRY_LATER if status == 429 else POLICY
    return Refused(code, message, close)


def _connection_request(scope) -> ASGIRequest:
    """A Django request for the handshake (headers, client address): for the key check, the
    rate limits and the audit log."""
    request = ASGIRequest({**scope, "method": "GET"}, io.BytesIO())
    request.request_id = uuid.uuid4().hex
    return request


class StreamInputConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()
        self.closed, self.ready = False, False
        self.request = _connection_request(self.scope)
        self.query = {k: v[-1] for k, v in parse_qs(self.scope["query_string"].decode()).items()}
        auto_mode = self.query.get("auto_mode", "").lower() in ("true", "1")
        self.buffer, self.timeline = TextBuffer(auto_mode=auto_mode), AlignmentTimeline()
        self.segments: asyncio.Queue = asyncio.Queue()
        self.received = 0
        self.speed = None
        self.busy = False
        self.heard_at = time.monotonic()
        self.speaker = self.watchdog = None
        try:
            self.inactivity = self._inactivity_timeout()
            key = self._header_key()
            if key:
                await self._sign_in(key)
        except Refused as refused:
            await self._refuse(refused)
            return
        except Exception:
            logger.exception("stream-input: the connection could not be set up")
            await self._refuse(Refused("internal_error", "The server failed.", SERVER_ERROR))
            return
        self.watchdog = asyncio.create_task(self._watch())

    async def disconnect(self, code):
        self.closed = True
        for task in (self.watchdog, self.speaker):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def receive(self, text_data=None, bytes_data=None):
        if self.closed:
            return
        self.heard_at = time.monotonic()
        try:
            await self._receive(text_data)
        except Refused as refused:
            await self._refuse(refused)
        except Exception:
            logger.exception("stream-input: a message could not be handled")
            await self._refuse(Refused("internal_error", "The server failed.", SERVER_ERROR))

    # --- input ------------------------------------------------------------------------------
    async def _receive(self, text_data):
        try:
            message = json.loads(text_data) if text_data is not None else None
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("text", ""), str):
            raise Refused("invalid_message", 'Each message is a JSON object with a "text".')
        if not self.ready:
            await self._begin(message)
            return
        self._settings(message)
        text = message.get("text", "")
        if text == "":  # the end of input
            self._queue(self.buffer.take(force=True))
            self.segments.put_nowait(_END)
            return
        self.received += len(text)
        limit = settings.STREAM_INPUT_MAX_CHARACTERS
        if self.received > limit:
            raise Refused(
                "text_limit_exceeded",
                f"A connection takes up to {limit:,} characters of text; open a new one.",
            )
        self.buffer.add(text)
        force = bool(message.get("flush"))
        while (segment := self.buffer.take(force=force)) is not None:
            self._queue(segment)
            force = False

    async def _begin(self, message: dict):
        """The first message: the key (if the handshake had none), settings, the schedule."""
        if getattr(self, "user", None) is None:
            auth = message.get("xi-api-key") or message.get("xi_api_key")
            auth = auth or _bearer(message.get("authorization"))
            if not auth:
                raise Refused(
                    "authentication_required",
                    "Send an API key: the xi-api-key header, or xi-api-key in the first message.",
                )
            await self._sign_in(auth)
        config = message.get("generation_config") or {}
        schedule = config.get("chunk_length_schedule") if isinstance(config, dict) else None
        if schedule is not None:
            low, high = SCHEDULE_RANGE
            if not (
                isinstance(schedule, list)
                and schedule
                and all(isinstance(n, int | float) and low <= n <= high for n in schedule)
            ):
                raise Refused(
                    "invalid_generation_config",
                    f"chunk_length_schedule is a list of character counts from {low} to {high}.",
                )
            self.buffer.schedule = tuple(int(n) for n in schedule)
        self._settings(message)
        self.ready = True
        self.speaker = asyncio.create_task(self._speak_all())
        if message.get("text", " ").strip():  # text in the first message is spoken too
            await self._receive(json.dumps({"text": message["text"]}))

    def _settings(self, message: dict) -> None:
        voice_settings = message.get("voice_settings")
        if voice_settings is not None:
            serializer = s.VoiceSettingsInput(data=voice_settings)
            if not serializer.is_valid():
                raise Refused("invalid_speed", f"voice_settings: {serializer.errors}")
            speed = serializer.validated_data.get("speed")
            self.speed = speed if speed is not None else self.speed

    def _queue(self, segment: str | None) -> None:
        if segment is not None:
            self.segments.put_nowait(segment)

    # --- who, what voice, what format ----------------------------------------------------------
    def _header_key(self) -> str | None:
        headers = self.request.headers
        key = _bearer(headers.get("Authorization")) or headers.get("xi-api-key", "").strip()
        return key or _bearer(self.query.get("authorization"))

    def _inactivity_timeout(self) -> float:
        value = self.query.get("inactivity_timeout", INACTIVITY_DEFAULT)
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1
        if not 0 < seconds <= INACTIVITY_MAX:
            raise Refused(
                "invalid_inactivity_timeout",
                f"inactivity_timeout is a number of seconds from 1 to {INACTIVITY_MAX}.",
            )
        return seconds

    async def _sign_in(self, key: str) -> None:
        try:
            await database_sync_to_async(self._sign_in_sync)(key)
        except (ServiceError, exceptions.APIException) as exc:
            raise _refusal(exc) from None

    def _sign_in_sync(self, key: str) -> None:
        request = self.request
        request.META["HTTP_XI_API_KEY"] = key  # read by the one key check there is
        request.META.pop("HTTP_AUTHORIZATION", None)
        request.__dict__.pop("headers", None)  # a cached_property: read META again
        user, api_key = ApiKeyAuthentication().authenticate(request)
        request.user, request.auth = user, api_key
        if not api_key.allows("tts"):
            raise exceptions.PermissionDenied("This API key lacks the 'tts' scope.")
        state = api_rate_check(request)
        if state is not None and state["limited"]:
            raise ApiError(
                code="rate_limited",
                message=f"Too many requests: the limit is {state['limit']} per window. "
                f"Retry in {max(state['reset'], 1)} second(s).",
                status_code=429,
            )
        fmt, rate, bitrate = output_format_parse(self.query.get("output_format"))
        voice = voice_selectors.voice_find(
            user=user, reference=self.scope["url_route"]["kwargs"]["voice_id"], by_name=False
        )
        model = self.query.get("model_id")
        self.engine = model_engine(model if model not in ("None", "null") else None)
        self.options = encode_options(
            voice, fmt=fmt, sample_rate=rate, bitrate=bitrate, engine=self.engine
        )
        self.user, self.api_key, self.voice = user, api_key, voice
        self.seed = self._seed()

    def _seed(self) -> int | None:
        value = self.query.get("seed")
        if value in (None, ""):
            return None
        if not value.isdigit() or int(value) > 4_294_967_295:
            raise ApiError(code="invalid_seed", message="seed is an integer from 0 to 4294967295.")
        return int(value)

    # --- output -----------------------------------------------------------------------------
    async def _speak_all(self):
        try:
            while (segment := await self.segments.get()) is not _END:
                self.busy = True
                try:
                    await self._speak(segment)
                finally:
                    self.busy, self.heard_at = False, time.monotonic()
            await self._send({"audio": None, "isFinal": True})
            self.closed = True
            await self.close(code=1000)
        except Refused as refused:
            await self._refuse(refused)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("stream-input: a generation failed")
            await self._refuse(Refused("internal_error", "The server failed.", SERVER_ERROR))

    async def _speak(self, text: str) -> None:
        try:
            job = await database_sync_to_async(self._job_create)(text)
        except (ServiceError, exceptions.APIException) as exc:
            if getattr(exc, "code", None) == "empty_text":
                return
            raise _refusal(exc) from None
        if getattr(job, "dispatch_failed", False):
            await _cancel(job, self.user)
            raise Refused(
                "synthesis_unavailable",
                "The job queue is unavailable right now; nothing was charged. Retry in a moment.",
                SERVER_ERROR,
            )
        options = self.options
        stream = EncodedStream(
            str(job.code),
            fmt=options.format.name,
            sample_rate_in=options.sample_rate_in,
            sample_rate_out=options.sample_rate_out,
            bitrate=options.bitrate,
            first_timeout=settings.SYNTHESIS_STREAM_FIRST_TIMEOUT,
            events=True,
        )
        finished = False
        try:
            async for item in stream:
                if isinstance(item, dict):
                    if item.get("type") == "alignment":
                        self.timeline.add(item)
                    continue
                await self._send_audio(item)
            finished = True
        except StreamFailed as exc:
            finished = True  # the worker failed the job and refunded it
            raise Refused("synthesis_failed", str(exc), SERVER_ERROR) from None
        except StreamTimeout:
            raise Refused(
                "synthesis_unavailable",
                "No synthesis worker produced audio in time; the job was cancelled and not "
                "charged.",
                SERVER_ERROR,
            ) from None
        except EncodingError as exc:
            raise Refused("encoding_failed", str(exc), SERVER_ERROR) from None
        finally:
            if not finished:
                await asyncio.shield(_cancel(job, self.user))
            self.timeline.job_offset += stream.seconds
        if self.timeline.pending:
            await self._send_audio(b"")

    def _job_create(self, text: str):
        params = job_params(speed=self.speed, seed=self.seed)
        return services.job_create(
            owner=self.user,
            voice=self.voice,
            text=text,
            language=self.query.get("language_code") or "",
            output_format=self.options.format.name,
            sample_rate=self.options.sample_rate_out,
            bitrate=self.options.bitrate,
            params=params,
            stream=True,
            timestamps=True,
            engine=self.engine,
            request=self.request,
            api_key=self.api_key,
        )

    async def _send_audio(self, audio: bytes) -> None:
        alignment = self.timeline.take()
        await self._send(
            {
                "audio": base64.b64encode(audio).decode() if audio else "",
                "isFinal": None,
                "normalizedAlignment": alignment,
                "alignment": alignment,
            }
        )

    async def _send(self, message: dict) -> None:
        if not self.closed:
            await self.send(text_data=json.dumps(message, separators=(",", ":")))

    async def _refuse(self, refused: Refused) -> None:
        """Say why, then close with a code other than 1000 (the SDK raises ApiError)."""
        if self.closed:
            return
        await self._send(
            {"message": refused.message, "error": refused.error, "code": refused.close_code}
        )
        self.closed = True
        await self.close(code=refused.close_code, reason=refused.error[:120])
        if self.speaker is not None and self.speaker is not asyncio.current_task():
            self.speaker.cancel()

    async def _watch(self):
        """Ends a connection that sent no text for `inactivity_timeout` while nothing was
        being generated for it."""
        while not self.closed:
            idle = time.monotonic() - self.heard_at
            if self.busy or not self.segments.empty():
                idle = 0.0
                self.heard_at = time.monotonic()
            if idle >= self.inactivity:
                await self._refuse(
                    Refused(
                        "input_timeout_exceeded",
                        f"No text received for {self.inactivity:g} seconds (inactivity_timeout).",
                    )
                )
                return
            await asyncio.sleep(min(self.inactivity - idle, 1.0))


async def _cancel(job, user) -> None:
    await sync_to_async(job_cancel_quietly)(job, user)


def _bearer(value) -> str:
    """A key from "Bearer <key>" (or the bare key)."""
    if not isinstance(value, str):
        return ""
    scheme, _, rest = value.strip().partition(" ")
    return (rest if scheme.lower() in ("bearer", "api-key") else value).strip()


class NoSuchSocket(AsyncWebsocketConsumer):
    """Any other WebSocket path: refused at the handshake (HTTP 403)."""

    async def connect(self):
        await self.close()
