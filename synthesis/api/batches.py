"""Batch endpoints: many texts at once, one zip with a manifest when all are done."""

from __future__ import annotations

from django.core.files.storage import default_storage
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from config.api import ApiError
from synthesis.api import schema as doc
from synthesis.api import serializers as s
from synthesis.api.responses import quota_headers, ranged_file_response
from synthesis.api.views import (
    READ,
    WRITE,
    SynthesisAPIView,
    actor,
    idempotency_key,
    text_request,
    valid,
)
from synthesis.batches import services as batches
from synthesis.jobs import outputs, selectors
from synthesis.models import SynthesisBatch

_SHARED = ("voice", "model", "language", "format", "sample_rate", "parameters")


def _items(user, data: dict) -> list[dict]:
    """Each item with the batch's fields filled in where it left them out."""
    items = []
    for index, item in enumerate(data["items"]):
        merged = {**{k: data[k] for k in _SHARED if data.get(k) is not None}, **item}
        if "voice" not in merged:
            raise ApiError(
                code="invalid_request",
                message=f"items[{index}]: give a voice (in the item or for the whole batch).",
            )
        items.append(text_request(user, merged))
    return items


class BatchListCreate(SynthesisAPIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(
        summary="Your batches, newest first",
        responses={200: s.BatchOutput(many=True), **doc.errors(*doc.auth_errors(READ))},
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.batch_list(user=request.user))
        data = s.BatchOutput(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Request speech for many texts at once",
        description="Up to SYNTHESIS_BATCH_MAX_ITEMS items (50 unless configured). Fields given "
        "on the batch (voice, language, format, sample_rate, parameters) apply to items that "
        "leave them out. The total is charged at once or the batch is refused; the batch holds "
        "one of your concurrent-job slots. When every item has ended, a zip with each audio "
        "file and manifest.json is built; GET the batch for `archive_url`.",
        request=s.BatchCreateInput,
        parameters=[doc.IDEMPOTENCY_KEY, *doc.QUOTA_HEADERS],
        responses={
            202: s.BatchOutput,
            **doc.errors(
                (
                    400,
                    "invalid_request / invalid_batch_size, or any error of POST /api/v1/synthesis "
                    "with the item named in the message (items[3]: ...).",
                ),
                *doc.auth_errors(WRITE),
                *doc.VOICE_ERRORS,
                *doc.QUOTA_ERRORS,
            ),
        },
    )
    def post(self, request):
        data = valid(s.BatchCreateInput, request.data)
        items = _items(request.user, data)
        batch = batches.batch_create(
            owner=request.user,
            items=items,
            webhook_url=data.get("webhook_url") or "",
            idempotency_key=idempotency_key(request),
            **actor(request),
        )
        replay = getattr(batch, "idempotent_replay", False)
        batch = selectors.batch_get(user=request.user, code=batch.code)
        response = Response(
            s.BatchOutput(batch, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )
        quota_headers(response, user=request.user, cost=batch.total_characters)
        if replay:
            response["Idempotent-Replayed"] = "true"
        return response


class BatchDetail(SynthesisAPIView):
    required_scope = READ

    @extend_schema(
        summary="A batch: its items' states and, when done, the zip's URL",
        responses={200: s.BatchOutput, **doc.errors(*doc.auth_errors(READ), doc.NOT_FOUND)},
    )
    def get(self, request, code):
        batch = selectors.batch_get(user=request.user, code=code)
        return Response(s.BatchOutput(batch, context={"request": request}).data)


class BatchArchive(SynthesisAPIView):
    required_scope = READ

    @extend_schema(
        summary="Download a finished batch as a zip (audio files + manifest.json)",
        parameters=[doc.RANGE],
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
            (206, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
            **doc.errors(
                *doc.auth_errors(READ),
                doc.NOT_FOUND,
                (409, "batch_not_ready: items are still running or the zip is being built."),
                (
                    410,
                    "archive_gone: the zip expired under your plan's retention, or building "
                    "it failed (see the batch's error).",
                ),
                (416, "range_not_satisfiable."),
            ),
        },
    )
    def get(self, request, code):
        batch = selectors.batch_get(user=request.user, code=code)
        if batch.status in (SynthesisBatch.Status.RUNNING, SynthesisBatch.Status.PACKAGING):
            raise ApiError(
                code="batch_not_ready",
                message=f"The batch is {batch.status}; the zip exists once every item ended.",
                status_code=status.HTTP_409_CONFLICT,
            )
        if not batch.archive:
            raise ApiError(
                code="archive_gone",
                message=batch.error or "The zip expired under your plan's retention.",
                status_code=status.HTTP_410_GONE,
            )
        outputs.batch_archive_downloaded(batch=batch, user=request.user, **actor(request))
        name = batch.archive.name
        return ranged_file_response(
            request,
            lambda: default_storage.open(name, "rb"),
            size=batch.archive_bytes or default_storage.size(name),
            content_type="application/zip",
            filename=f"timbre-batch-{batch.code}.zip",
        )
