"""HTTP answers the synthesis APIs share (Timbre's own and the compatible ones).

- `quota_headers`: `character-cost` and the monthly character quota as x-ratelimit-*-characters.
- `rate_limit_headers`: the request-rate state (also applied to every response by middleware).
- `ranged_file_response`: a stored file with HTTP Range (200 / 206 / 416), streamed in blocks.
- `job_audio_response`: a job's stored audio (Range, audit, and store=false deletion).
- `job_stream_response`: the audio of a stream job while a worker generates it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from django.conf import settings
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
