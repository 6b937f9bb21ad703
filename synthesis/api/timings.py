"""A job's timings and captions under /api/v1/synthesis/{id}/ (synthesis.jobs.alignment)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from config.api import ApiError
from synthesis.api import schema as doc
from synthesis.api import serializers as s
from synthesis.api.views import READ, SynthesisAPIView
from synthesis.jobs import alignment, outputs, selectors
from synthesis.models import SynthesisJob

CAPTION_FORMATS = {
    "vtt": ("text/vtt; charset=utf-8", alignment.webvtt),
    "srt": ("application/x-subrip; charset=utf-8", alignment.srt),
}
NO_TIMINGS_ERRORS = (
    (409, "audio_not_ready: the job has not succeeded."),
    (410, "audio_gone: the audio (and its timings) expired or was downloaded with store=false."),
)


def timings_for(job: SynthesisJob) -> dict:
    """The job's timings document, or the 409/410 that says why there is none."""
    document = outputs.job_timings(job)
    if document is not None:
        return document
    if job.status != SynthesisJob.Status.SUCCEEDED:
        raise ApiError(
            code="audio_not_ready",
            message=f"The job is {job.status}; timings exist only once it has succeeded.",
            status_code=status.HTTP_409_CONFLICT,
        )
    raise ApiError(
        code="audio_gone",
        message="This job's audio is no longer stored, and its timings went with it.",
        status_code=status.HTTP_410_GONE,
    )


class JobTimings(SynthesisAPIView):
    required_scope = READ

    @extend_schema(
        summary="Character and word timings of a job's audio",
        description="For a job made with `timestamps: true`, the stored timings: per chunk "
        "(sentence) its span on the audio's timeline (the joins the pipeline made) and every "
        "character's start/end in seconds, from the engine (`source: engine`) or estimated from "
        "the audio (`source: estimate`); words from the characters; `alignment` over the text "
        "as sent. Any other finished job gets a cheaper estimate from its text and duration.",
        responses={
            200: s.TimingsOutput,
            **doc.errors(*doc.auth_errors(READ), doc.NOT_FOUND, *NO_TIMINGS_ERRORS),
        },
    )
    def get(self, request, code):
        job = selectors.job_get(user=request.user, code=code)
        document = timings_for(job)
        starts, ends = alignment.original_text_alignment(document, job.text)
        document["alignment"] = {
            "characters": list(job.text),
            "character_start_times_seconds": starts,
            "character_end_times_seconds": ends,
        }
        document["source"] = _source(document)
        return Response(document)


CAPTIONS_SCHEMA = {
    "summary": "Captions of a job's audio (WebVTT or SRT)",
    "description": "Cues of words grouped by sentence, at most 84 characters or 6 seconds "
    "each. Timed from the job's timings (see /timings): exact joins for jobs made with "
    "`timestamps: true`, an estimate from the text and duration for others. The format is the "
    "path's extension (captions.vtt, captions.srt) or `?format=vtt|srt`.",
    "responses": {
        (200, "text/vtt"): OpenApiResponse(OpenApiTypes.STR, description="WebVTT captions."),
        (200, "application/x-subrip"): OpenApiResponse(
            OpenApiTypes.STR, description="SRT captions."
        ),
        **doc.errors(
            (400, "invalid_request: format is not vtt or srt."),
            *doc.auth_errors(READ),
            doc.NOT_FOUND,
            *NO_TIMINGS_ERRORS,
        ),
    },
}


class JobCaptions(SynthesisAPIView):
    required_scope = READ

    @extend_schema(
        **CAPTIONS_SCHEMA,
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=list(CAPTION_FORMATS))],
    )
    def get(self, request, code):
        return _captions(request, code, request.query_params.get("format") or "vtt")


class JobCaptionsVtt(SynthesisAPIView):
    """The same captions at /captions.vtt (a file name players recognise)."""

    required_scope = READ

    @extend_schema(**CAPTIONS_SCHEMA, operation_id="v1_synthesis_captions_vtt")
    def get(self, request, code):
        return _captions(request, code, "vtt")


class JobCaptionsSrt(SynthesisAPIView):
    """The same captions at /captions.srt."""

    required_scope = READ

    @extend_schema(**CAPTIONS_SCHEMA, operation_id="v1_synthesis_captions_srt")
    def get(self, request, code):
        return _captions(request, code, "srt")


def _captions(request, code, fmt: str) -> HttpResponse:
    if fmt not in CAPTION_FORMATS:
        raise ApiError(
            code="invalid_request", message="format must be vtt (WebVTT) or srt (SubRip)."
        )
    job = selectors.job_get(user=request.user, code=code)
    return captions_response(job, fmt)


def captions_response(job: SynthesisJob, fmt: str) -> HttpResponse:
    """The captions file of a job (for the API and the dashboard, ownership checked)."""
    content_type, render = CAPTION_FORMATS[fmt]
    response = HttpResponse(render(timings_for(job)["words"]), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="timbre-{job.code}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _source(document: dict) -> str:
    sources = {chunk.get("source") for chunk in document["chunks"]}
    return sources.pop() if len(sources) == 1 else "mixed"
