"""The synthesis API: jobs, their audio, and streaming (under /api/v1/).

Views are thin: parse input, call a selector or service, serialise. Someone else's job is a
404 everywhere (synthesis.jobs.selectors); errors use the one error shape (config.api).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from accounts.api.auth import request_api_key
from config.api import ApiError
from synthesis.api import schema as doc
from synthesis.api import serializers as s
from synthesis.api.responses import job_audio_response, job_stream_response, quota_headers
from synthesis.engines import engines
from synthesis.jobs import catalog, outputs, selectors, services
from synthesis.jobs.encoding import FORMATS
from synthesis.workers.status import engine_summary
from voices import selectors as voice_selectors
from voices.models import Voice

READ, WRITE = "history:read", "tts"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class SynthesisAPIView(GenericAPIView):
    parser_classes = [JSONParser]  # bodies over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 (config.api)

    def perform_content_negotiation(self, request, force=False):
        # Clients that ask for audio/* get audio, and their errors still come as JSON.
        return super().perform_content_negotiation(request, force=True)


def voice_for(user, code) -> Voice:
    return voice_selectors.voice_find(user=user, reference=code, by_name=False)


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if key and not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            code="invalid_idempotency_key",
            message="Idempotency-Key must be 1-255 printable ASCII characters without spaces.",
        )
    return key


def text_request(user, data: dict) -> dict:
    """job_create's keyword arguments for one validated text (defaults from the voice)."""
    voice = voice_for(user, data["voice"])
    return {
        "voice": voice,
        "engine": catalog.model_engine(data.get("model"), surface=catalog.NATIVE),
        "text": data["text"],
        "language": data.get("language") or "",
        "output_format": data.get("format") or "mp3",
        "sample_rate": data.get("sample_rate"),
        "params": dict(data.get("parameters") or {}),
    }


def actor(request) -> dict:
    return {"request": request, "api_key": request_api_key(request)}


# --- engines -----------------------------------------------------------------------------------
class EngineList(SynthesisAPIView):
    required_scopes = {"GET": "voices:read"}
    pagination_class = None  # a short list, answered whole

    @extend_schema(
        summary="Installed speech engines: languages, parameters (ranges, defaults), readiness",
        responses={200: s.EngineOutput(many=True), **doc.errors(*doc.auth_errors("voices:read"))},
    )
    def get(self, request):
        found = []
        for name, facts in engines().items():
            summary = engine_summary(name)
            found.append({**facts.to_dict(), "ready": summary.ready, "reason": summary.reason})
        return Response(s.EngineOutput(found, many=True).data)


# --- jobs --------------------------------------------------------------------------------------
class JobListCreate(SynthesisAPIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(
        summary="Your synthesis jobs, newest first",
        parameters=[s.JobListFilters],
        responses={
            200: s.JobOutput(many=True),
            **doc.errors((400, "invalid_request: a filter is malformed."), *doc.auth_errors(READ)),
        },
    )
    def get(self, request):
        filters = valid(s.JobListFilters, request.query_params)
        page = self.paginate_queryset(selectors.job_list(user=request.user, **filters))
        data = s.JobOutput(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Request speech for a text",
        description="Answers 202 with the job (status `queued`); poll GET /api/v1/synthesis/{id} "
        "or give a `webhook_url`. The characters are reserved now and charged when the job "
        "succeeds (refunded if it fails or is cancelled).",
        request=s.JobCreateInput,
        parameters=[doc.IDEMPOTENCY_KEY, *doc.QUOTA_HEADERS],
        responses={
            202: s.JobDetailOutput,
            **doc.errors(
                doc.BAD_INPUT, *doc.auth_errors(WRITE), *doc.VOICE_ERRORS, *doc.QUOTA_ERRORS
            ),
        },
    )
    def post(self, request):
        data = valid(s.JobCreateInput, request.data)
        wanted = text_request(request.user, data)
        job = services.job_create(
            owner=request.user,
            **wanted,
            webhook_url=data.get("webhook_url") or "",
            store=data["store"],
            timestamps=data["timestamps"],
            idempotency_key=idempotency_key(request),
            **actor(request),
        )
        return job_accepted(request, job)


def job_accepted(request, job) -> Response:
    replay = getattr(job, "idempotent_replay", False)
    job = selectors.job_get(user=request.user, code=job.code)
    response = Response(
        s.JobDetailOutput(job, context={"request": request}).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": reverse("api-synthesis-job", kwargs={"code": job.code})},
    )
    quota_headers(response, user=request.user, cost=job.characters)
    if replay:
        response["Idempotent-Replayed"] = "true"
    return response


class JobDetail(SynthesisAPIView):
    required_scopes = {"GET": READ, "DELETE": WRITE}

    @extend_schema(
        summary="A job: status, progress, cost, durations and its audio URL when done",
        responses={200: s.JobDetailOutput, **doc.errors(*doc.auth_errors(READ), doc.NOT_FOUND)},
    )
    def get(self, request, code):
        job = selectors.job_get(user=request.user, code=code)
        return Response(s.JobDetailOutput(job, context={"request": request}).data)

    @extend_schema(
        summary="Delete a finished job from your history, with its audio",
        responses={
            204: None,
            **doc.errors(
                *doc.auth_errors(WRITE), doc.NOT_FOUND, (409, "job_not_finished: cancel it first.")
            ),
        },
    )
    def delete(self, request, code):
        job = selectors.job_get(user=request.user, code=code)
        outputs.job_delete(job=job, user=request.user, **actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobCancel(SynthesisAPIView):
    required_scope = WRITE

    @extend_schema(
        summary="Cancel a job",
        description="A queued job is cancelled at once; a running one stops after its current "
        "chunk (status stays `running` until then). Either way nothing is charged.",
        request=None,
        responses={
            200: s.JobDetailOutput,
            **doc.errors(
                *doc.auth_errors(WRITE), doc.NOT_FOUND, (409, "job_finished: it already ended.")
            ),
        },
    )
    def post(self, request, code):
        job = selectors.job_get(user=request.user, code=code)
        services.job_cancel(job=job, user=request.user, **actor(request))
        job = selectors.job_get(user=request.user, code=code)
        return Response(s.JobDetailOutput(job, context={"request": request}).data)


AUDIO_RESPONSES = {
    (200, fmt.content_type): OpenApiResponse(OpenApiTypes.BINARY, description=f"{name} audio.")
    for name, fmt in FORMATS.items()
}


class JobAudio(SynthesisAPIView):
    required_scope = READ

    @extend_schema(
        summary="Download a job's audio (HTTP Range supported; owner only)",
        description="200 with the whole file or 206 with the requested range (Content-Range). "
        "A job made with store=false keeps its audio until the first download that reaches the "
        "file's last byte. Audited as synthesis.job.downloaded.",
        parameters=[doc.RANGE],
        responses={
            **AUDIO_RESPONSES,
            (206, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The requested byte range (the job's type)."
            ),
            **doc.errors(
                *doc.auth_errors(READ),
                doc.NOT_FOUND,
                (409, "audio_not_ready: the job has not succeeded."),
                (410, "audio_gone: expired (retention) or downloaded with store=false."),
                (416, "range_not_satisfiable: the range is malformed or outside the file."),
            ),
        },
    )
    def get(self, request, code):
        job = selectors.job_get(user=request.user, code=code)
        return job_audio_response(request, job, api_key=request_api_key(request))


STREAM_RESPONSES = {
    (200, fmt.content_type): OpenApiResponse(
        OpenApiTypes.BINARY,
        description=f"{name} audio, sent while it is generated (chunked)."
        if fmt.streams
        else f"{name} audio, sent whole once it is complete, so its header carries the length.",
    )
    for name, fmt in FORMATS.items()
}


class JobStream(SynthesisAPIView):
    required_scope = WRITE

    @extend_schema(
        summary="Speak a short text and stream the audio while it is generated",
        description="Same body as POST /api/v1/synthesis (webhook_url and store are ignored); "
        "the text may have up to SYNTHESIS_STREAM_MAX_CHARACTERS. The answer is the audio in "
        "the requested format, sent chunk by chunk; X-Synthesis-Job names the job (it is kept "
        "in your history). Closing the connection cancels the job.",
        request=s.TextInput,
        parameters=doc.QUOTA_HEADERS,
        responses={
            **STREAM_RESPONSES,
            **doc.errors(
                doc.BAD_INPUT,
                *doc.auth_errors(WRITE),
                *doc.VOICE_ERRORS,
                *doc.QUOTA_ERRORS,
                (502, "synthesis_failed / encoding_failed: the worker failed before any audio."),
                (503, "synthesis_unavailable: no synthesis worker produced audio in time."),
            ),
        },
    )
    def post(self, request):
        data = valid(s.TextInput, request.data)
        limit = settings.SYNTHESIS_STREAM_MAX_CHARACTERS
        if len(data["text"]) > limit:
            raise ApiError(
                code="text_too_long",
                message=f"Streaming takes up to {limit:,} characters ({len(data['text']):,} "
                "sent); use POST /api/v1/synthesis for longer texts.",
            )
        wanted = text_request(request.user, data)
        job = services.job_create(
            owner=request.user,
            **wanted,
            stream=True,
            timestamps=data["timestamps"],
            **actor(request),
        )
        response = job_stream_response(
            request,
            job,
            fmt=job.output_format,
            sample_rate_in=catalog.job_engine(job).sample_rate,
            sample_rate_out=job.sample_rate,
        )
        quota_headers(response, user=request.user, cost=job.characters)
        return response
