"""HTTP answers the synthesis APIs share (Timbre's own and the compatible ones).

- `quota_headers`: `character-cost` and the monthly character quota as x-ratelimit-*-characters.
- `rate_limit_headers`: the request-rate state (also applied to every response by middleware).
- `ranged_file_response`: a stored file with HTTP Range (200 / 206 / 416), streamed in blocks.
- `job_audio_response`: a job's stored audio (Range, audit, and store=false deletion).
- `job_stream_response`: the audio of a stream job while a worker generates it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponseBase, StreamingHttpResponse
from rest_framework import status
from rest_framework.response import Response

from accounts.ratelimits import rate_limit_headers  # noqa: F401  (re-exported for the compat APIs)
from accounts.usage import characters_remaining
from config import ranges
from config.api import ApiError, error_body
from config.service_errors import ServiceError
from synthesis.models import SynthesisJob

logger = logging.getLogger(__name__)


# --- headers -----------------------------------------------------------------------------------
def quota_headers(response: HttpResponseBase, *, user, cost: int | None = None) -> None:
    """`character-cost` (what this request was charged) and this month's character quota."""
    if cost is not None:
        response["character-cost"] = str(cost)
    limit, remaining = characters_remaining(user=user)
    response["x-ratelimit-limit-characters"] = str(limit)
    response["x-ratelimit-remaining-characters"] = str(remaining)


# --- files with Range ----------------------------------------------------------------------------
# The parsing and the response live in config.ranges (pages use them too); kept importable here.
RangeNotSatisfiable = ranges.RangeNotSatisfiable
parse_range = ranges.parse_range


def ranged_file_response(request, open_file: Callable, *, attachment=True, **options):
    """config.ranges.ranged_file_response, an attachment unless told otherwise (archives)."""
    return ranges.ranged_file_response(request, open_file, attachment=attachment, **options)


def job_audio_response(request, job: SynthesisJob, *, api_key=None) -> HttpResponseBase:
    """A job's audio for its owner (already checked): Range, audit, store=false handling.

    409 `audio_not_ready` while the job has not succeeded; 410 `audio_gone` once the audio was
    deleted (expired after the plan's retention, or downloaded with store=false).
    """
    from synthesis.jobs import outputs
    from synthesis.jobs.encoding import FORMATS

    if job.status != SynthesisJob.Status.SUCCEEDED:
        raise ApiError(
            code="audio_not_ready",
            message=f"The job is {job.status}; audio exists only once it has succeeded.",
            status_code=status.HTTP_409_CONFLICT,
        )
    if not job.audio:
        reason = {
            "expired": "it expired under your plan's retention",
            "downloaded": "it was stored with store=false and has been downloaded",
        }.get(job.audio_deleted_reason, "it was deleted")
        raise ApiError(
            code="audio_gone",
            message=f"This job's audio is no longer stored: {reason}.",
            status_code=status.HTTP_410_GONE,
        )
    fmt = FORMATS[job.output_format]
    size = job.audio_bytes or job.audio.size
    outputs.job_audio_downloaded(
        job=job,
        user=request.user,
        byte_range=request.headers.get("Range"),
        request=request,
        api_key=api_key,
    )
    on_complete = None
    if not job.store:
        django_request = getattr(request, "_request", request)

        def on_complete():
            outputs.job_audio_consumed(job=job, request=django_request)

    name = job.audio.name
    from django.core.files.storage import default_storage

    # Inline for players, an attachment with ?download=1 (config.ranges).
    return ranges.storage_file_response(
        request,
        default_storage,
        name,
        size=size,
        content_type=fmt.content_type,
        filename=f"timbre-{job.code}.{fmt.extension}",
        on_complete=on_complete,
    )


# --- streaming ---------------------------------------------------------------------------------
class _JobStream:
    """The encoded audio of a stream job as a response body (with its alignment events as dicts
    when `events=True`, for bodies that carry timings).

    `open()` waits for the first piece, so a failure before any audio is sent becomes a JSON
    error; after that a failure can only end the body early. A client that goes away cancels
    the job (refunding it), so no worker keeps generating for nobody.
    """

    is_async = False

    def __init__(
        self,
        job: SynthesisJob,
        user,
        *,
        fmt,
        sample_rate_in,
        sample_rate_out,
        bitrate,
        events=False,
    ):
        self.job, self.user, self.events = job, user, events
        self.options = {
            "fmt": fmt,
            "sample_rate_in": sample_rate_in,
            "sample_rate_out": sample_rate_out,
            "bitrate": bitrate,
        }
        self._pieces = None
        self._first: bytes | dict = b""
        self._done = False

    def open(self) -> Response | None:
        """None when audio is flowing; else the error response to send instead."""
        from synthesis.jobs.encoding import EncodingError
        from synthesis.jobs.streaming import StreamFailed, StreamTimeout

        if getattr(self.job, "dispatch_failed", False):
            # The broker was down when the job was accepted: a caller waiting for audio would
            # wait for nothing, so the job is cancelled (not charged) and the answer is a 503.
            self._done = True
            job_cancel_quietly(self.job, self.user)
            return _unavailable(
                "The job queue is unavailable right now (the broker cannot be reached); the "
                "request was cancelled and not charged. Retry in a moment."
            )
        try:
            self._first = self._first_piece()
        except StreamFailed as exc:
            self._done = True  # the worker failed the job (and refunded it)
            return Response(error_body("synthesis_failed", str(exc)), status=502)
        except EncodingError as exc:
            self.close()
            return Response(error_body("encoding_failed", str(exc)), status=502)
        except StreamTimeout:
            self.close()
            message = (
                "No synthesis worker produced audio in time; the job was cancelled and not "
                "charged. The operator must start one (celery -A config worker -Q synthesis)."
            )
            return _unavailable(message)
        except Exception:  # the channel itself broke (e.g. Redis): no audio will come
            logger.exception("Reading the stream of job %s failed", self.job.code)
            self.close()
            return _unavailable(
                "The audio channel between the worker and this server failed; the job was "
                "cancelled and not charged. The operator can find the cause in the logs."
            )
        return None

    def _first_piece(self) -> bytes | dict:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _ended_early(self, exc: Exception | None) -> None:
        if exc is None:
            logger.exception("Stream of job %s broke off", self.job.code)
        else:  # headers are gone already: all that is left is ending the body early
            logger.warning("Stream of job %s ended early: %s", self.job.code, exc)


class JobAudioStream(_JobStream):
    """Under WSGI (gunicorn, the tests' live_server): a plain iterator, one thread per body."""

    def _first_piece(self):
        from synthesis.jobs.streaming import stream_encoded
        from synthesis.jobs.streaming_async import encoded_events_blocking

        read = encoded_events_blocking if self.events else stream_encoded
        self._pieces = read(
            str(self.job.code),
            first_timeout=settings.SYNTHESIS_STREAM_FIRST_TIMEOUT,
            **self.options,
        )
        return next(self._pieces, b"")

    def __iter__(self) -> Iterator[bytes | dict]:
        from synthesis.jobs.encoding import EncodingError
        from synthesis.jobs.streaming import StreamFailed, StreamTimeout

        try:
            if self._first:
                yield self._first
            yield from self._pieces
            self._done = True
        except (StreamFailed, StreamTimeout, EncodingError) as exc:
            self._ended_early(exc)
        except Exception:
            self._ended_early(None)
        finally:
            self.close()

    def close(self) -> None:
        if self._pieces is not None:
            self._pieces.close()
        if not self._done:
            self._done = True
            job_cancel_quietly(self.job, self.user)


class AsyncJobAudioStream(_JobStream):
    """Under ASGI (uvicorn): an async iterator, so the body holds no thread while it plays.

    The view is synchronous (DRF), so it waits for the first piece in its own thread, on the
    event loop (async_to_sync), as the WSGI body does; everything after that is read on the
    loop by synthesis.jobs.streaming_async, and Django sends it from there.
    """

    is_async = True

    def _first_piece(self):
        from synthesis.jobs.streaming_async import EncodedStream

        stream = EncodedStream(
            str(self.job.code),
            first_timeout=settings.SYNTHESIS_STREAM_FIRST_TIMEOUT,
            events=self.events,
            **self.options,
        )
        self._pieces = aiter(stream)
        return async_to_sync(self._next)()

    async def _next(self):
        try:
            return await anext(self._pieces)
        except StopAsyncIteration:
            return b""

    def __aiter__(self) -> AsyncIterator[bytes | dict]:
        return self._body()

    async def _body(self):
        from synthesis.jobs.encoding import EncodingError
        from synthesis.jobs.streaming import StreamFailed, StreamTimeout

        try:
            if self._first:
                yield self._first
            async for piece in self._pieces:
                yield piece
            self._done = True
        except (StreamFailed, StreamTimeout, EncodingError) as exc:
            self._ended_early(exc)
        except Exception:
            self._ended_early(None)
        finally:
            # Also on a client that went away: Django cancels the task that sends the body.
            await asyncio.shield(self.aclose())

    async def aclose(self) -> None:
        if self._pieces is not None:
            pieces, self._pieces = self._pieces, None
            await pieces.aclose()
        if not self._done:
            self._done = True
            await sync_to_async(job_cancel_quietly)(self.job, self.user)

    def close(self) -> None:
        """From the view's thread (an error before any audio)."""
        async_to_sync(self.aclose)()


def job_stream_body(
    request,
    job: SynthesisJob,
    *,
    fmt: str,
    sample_rate_in: int,
    sample_rate_out=None,
    bitrate=None,
    events: bool = False,
) -> _JobStream:
    """The body for a stream job's audio: an async iterator under ASGI (uvicorn), a plain one
    under WSGI, where Django would buffer an async iterator whole. Call `open()` first."""
    asgi = isinstance(getattr(request, "_request", request), ASGIRequest)
    body_class = AsyncJobAudioStream if asgi else JobAudioStream
    return body_class(
        job,
        request.user,
        fmt=fmt,
        sample_rate_in=sample_rate_in,
        sample_rate_out=sample_rate_out,
        bitrate=bitrate,
        events=events,
    )


def _unavailable(message: str) -> Response:
    response = Response(error_body("synthesis_unavailable", message), status=503)
    response["Retry-After"] = "30"
    return response


def job_cancel_quietly(job: SynthesisJob, user) -> None:
    """Cancel (and refund) a stream job nobody listens to any more, whatever state it is in."""
    from synthesis.jobs import services

    try:
        services.job_cancel(job=job, user=user)
    except ServiceError:
        pass  # it ended meanwhile
    except Exception:  # the response is already gone; cleanup must not raise into the server
        logger.exception("Could not cancel job %s", job.code)


def job_stream_response(
    request,
    job: SynthesisJob,
    *,
    fmt: str,
    sample_rate_in: int,
    sample_rate_out=None,
    bitrate=None,
) -> HttpResponseBase:
    """Audio of a stream job (job_create(stream=True)) while it is generated, or a JSON error
    when nothing came (503 no worker in time, 502 synthesis or encoding failed)."""
    from synthesis.jobs.encoding import FORMATS

    body = job_stream_body(
        request,
        job,
        fmt=fmt,
        sample_rate_in=sample_rate_in,
        sample_rate_out=sample_rate_out,
        bitrate=bitrate,
    )
    error = body.open()
    if error is not None:
        error["X-Synthesis-Job"] = str(job.code)
        return error
    return streaming_response(body, job=job, content_type=FORMATS[fmt].content_type)


def streaming_response(content, *, job: SynthesisJob, content_type: str) -> StreamingHttpResponse:
    """A streamed body that no proxy may hold back, naming its job."""
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each piece on at once
    response["X-Synthesis-Job"] = str(job.code)
    return response
