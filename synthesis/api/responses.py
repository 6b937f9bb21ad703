"""HTTP answers the synthesis APIs share (Timbre's own and the compatible ones).

- `quota_headers`: `character-cost` and the monthly character quota as x-ratelimit-*-characters.
- `rate_limit_headers`: the request-rate state (also applied to every response by middleware).
- `ranged_file_response`: a stored file with HTTP Range (200 / 206 / 416), streamed in blocks.
- `job_audio_response`: a job's stored audio (Range, audit, and store=false deletion).
- `job_stream_response`: the audio of a stream job while a worker generates it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpResponseBase, StreamingHttpResponse
from rest_framework import status
from rest_framework.response import Response

from accounts.ratelimits import rate_limit_headers  # noqa: F401  (re-exported for the compat APIs)
from accounts.usage import characters_remaining
from config.api import ApiError, error_body
from config.service_errors import ServiceError
from synthesis.models import SynthesisJob

logger = logging.getLogger(__name__)

BLOCK_BYTES = 256 * 1024
_BYTES_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


# --- headers -----------------------------------------------------------------------------------
def quota_headers(response: HttpResponseBase, *, user, cost: int | None = None) -> None:
    """`character-cost` (what this request was charged) and this month's character quota."""
    if cost is not None:
        response["character-cost"] = str(cost)
    limit, remaining = characters_remaining(user=user)
    response["x-ratelimit-limit-characters"] = str(limit)
    response["x-ratelimit-remaining-characters"] = str(remaining)


# --- files with Range ----------------------------------------------------------------------------
class RangeNotSatisfiable(ApiError):
    def __init__(self, size: int, header: str):
        super().__init__(
            code="range_not_satisfiable",
            message=f"The range {header!r} does not fit the file's {size} bytes; ask for "
            "bytes=<first>-<last> with first <= last < size, bytes=<first>- or bytes=-<suffix>.",
            status_code=status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
            details={"size": size},
        )
        self.size = size


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The single byte range [first, last] a Range header asks for; None for the whole file.

    Other units and multi-range requests are answered with the whole file (RFC 9110 lets a
    server ignore Range); a bytes range that is malformed or outside the file raises
    RangeNotSatisfiable.
    """
    if not header or not header.strip().lower().startswith("bytes=") or "," in header:
        return None
    match = _BYTES_RANGE.match(header.strip().lower().replace(" ", ""))
    if match is None or size == 0:
        raise RangeNotSatisfiable(size, header)
    first, last = match.groups()
    if first == "" and last == "":
        raise RangeNotSatisfiable(size, header)
    if first == "":  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(size, header)
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(size, header)
    return start, end


def ranged_file_response(
    request,
    open_file: Callable,
    *,
    size: int,
    content_type: str,
    filename: str,
    on_complete: Callable[[], None] | None = None,
) -> HttpResponseBase:
    """200 with the whole file, 206 with the asked range, or 416 (in the error shape).

    `open_file()` returns a readable, seekable binary file. `on_complete` runs once the last
    byte of the file has been handed to the server (a download that reaches the end); a client
    that goes away before that does not trigger it.
    """
    header = request.headers.get("Range")
    try:
        wanted = parse_range(header, size)
    except RangeNotSatisfiable as exc:
        response = Response(error_body(exc.error_code, str(exc.detail), exc.details), status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    first, last = wanted if wanted is not None else (0, size - 1)
    length = max(last - first + 1, 0)
    reaches_end = last >= size - 1
    body = _file_blocks(open_file, first, length, on_complete if reaches_end else None)
    response = StreamingHttpResponse(body, content_type=content_type)
    response.status_code = status.HTTP_206_PARTIAL_CONTENT if wanted else status.HTTP_200_OK
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-transform"
    if wanted:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def _file_blocks(open_file, first: int, length: int, on_complete) -> Iterator[bytes]:
    handle = open_file()
    remaining = length
    try:
        handle.seek(first)
        while remaining > 0:
            block = handle.read(min(BLOCK_BYTES, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()
    if remaining == 0 and on_complete is not None:
        on_complete()


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

    return ranged_file_response(
        request,
        lambda: default_storage.open(name, "rb"),
        size=size,
        content_type=fmt.content_type,
        filename=f"timbre-{job.code}.{fmt.extension}",
        on_complete=on_complete,
    )


# --- streaming ---------------------------------------------------------------------------------
class JobAudioStream:
    """The encoded audio of a stream job as a response body.

    `open()` waits for the first piece, so a failure before any audio is sent becomes a JSON
    error; after that a failure can only end the body early. A client that goes away cancels
    the job (refunding it), so no worker keeps generating for nobody.
    """

    def __init__(self, job: SynthesisJob, user, *, fmt, sample_rate_in, sample_rate_out, bitrate):
        self.job, self.user = job, user
        self.options = {
            "fmt": fmt,
            "sample_rate_in": sample_rate_in,
            "sample_rate_out": sample_rate_out,
            "bitrate": bitrate,
        }
        self._pieces: Iterator[bytes] | None = None
        self._first = b""
        self._done = False

    def open(self) -> Response | None:
        """None when audio is flowing; else the error response to send instead."""
        from synthesis.jobs.encoding import EncodingError
        from synthesis.jobs.streaming import StreamFailed, StreamTimeout, stream_encoded

        if getattr(self.job, "dispatch_failed", False):
            # The broker was down when the job was accepted: a caller waiting for audio would
            # wait for nothing, so the job is cancelled (not charged) and the answer is a 503.
            self._done = True
            _cancel_quietly(self.job, self.user)
            return _unavailable(
                "The job queue is unavailable right now (the broker cannot be reached); the "
                "request was cancelled and not charged. Retry in a moment."
            )
        self._pieces = stream_encoded(
            str(self.job.code),
            first_timeout=settings.SYNTHESIS_STREAM_FIRST_TIMEOUT,
            **self.options,
        )
        try:
            self._first = next(self._pieces, b"")
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

    def __iter__(self) -> Iterator[bytes]:
        from synthesis.jobs.encoding import EncodingError
        from synthesis.jobs.streaming import StreamFailed, StreamTimeout

        try:
            if self._first:
                yield self._first
            yield from self._pieces
            self._done = True
        except (StreamFailed, StreamTimeout, EncodingError) as exc:
            # Headers are gone already: all that is left is ending the body early.
            logger.warning("Stream of job %s ended early: %s", self.job.code, exc)
        except Exception:
            logger.exception("Stream of job %s broke off", self.job.code)
        finally:
            self.close()

    def close(self) -> None:
        if self._pieces is not None:
            self._pieces.close()
        if not self._done:
            self._done = True
            _cancel_quietly(self.job, self.user)


def _unavailable(message: str) -> Response:
    response = Response(error_body("synthesis_unavailable", message), status=503)
    response["Retry-After"] = "30"
    return response


def _cancel_quietly(job: SynthesisJob, user) -> None:
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

    body = JobAudioStream(
        job,
        request.user,
        fmt=fmt,
        sample_rate_in=sample_rate_in,
        sample_rate_out=sample_rate_out,
        bitrate=bitrate,
    )
    error = body.open()
    if error is not None:
        error["X-Synthesis-Job"] = str(job.code)
        return error
    response = StreamingHttpResponse(body, content_type=FORMATS[fmt].content_type)
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each piece on at once
    response["X-Synthesis-Job"] = str(job.code)
    return response
