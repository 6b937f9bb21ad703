"""Usage and webhook settings of the signed-in user (under /api/v1/)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from accounts.api.auth import request_api_key
from accounts.usage import usage_summary
from synthesis.api import schema as doc
from synthesis.api import serializers as s
from synthesis.api.views import READ, WRITE, SynthesisAPIView, actor, valid
from synthesis.jobs import selectors
from synthesis.webhooks import services as webhooks


class Usage(SynthesisAPIView):
    required_scope = "usage:read"

    @extend_schema(
        summary="This month's usage against your plan",
        description="Characters used (settled), reserved (held by jobs in progress), the "
        "limit and when it resets (first day of next month, UTC), a per-day breakdown, and "
        "concurrent jobs, voice slots and storage. Called with an API key, `api_key` shows that "
        "key's own counters against its monthly_character_cap.",
        responses={200: s.UsageOutput, **doc.errors(*doc.auth_errors("usage:read"))},
    )
    def get(self, request):
        summary = usage_summary(user=request.user, api_key=request_api_key(request))
        return Response(s.UsageOutput(summary).data)


class WebhookSecretView(SynthesisAPIView):
    required_scope = WRITE

    @extend_schema(
        summary="Your webhook signing secret (made on first use)",
        responses={200: s.WebhookSecretOutput, **doc.errors(*doc.auth_errors(WRITE))},
    )
    def get(self, request):
        secret = webhooks.secret_get(owner=request.user, request=request)
        return Response(s.WebhookSecretOutput(secret).data)


class WebhookSecretRotate(SynthesisAPIView):
    required_scope = WRITE

    @extend_schema(
        summary="Replace your webhook signing secret",
        description="Deliveries from now on are signed with the new secret; the old one stops "
        "working at once. Audited as synthesis.webhook_secret.rotated.",
        request=None,
        responses={200: s.WebhookSecretOutput, **doc.errors(*doc.auth_errors(WRITE))},
    )
    def post(self, request):
        secret = webhooks.secret_rotate(owner=request.user, **actor(request))
        return Response(s.WebhookSecretOutput(secret).data)


class DeliveryFilters(s.serializers.Serializer):
    job = s.serializers.UUIDField(required=False)


class WebhookDeliveryList(SynthesisAPIView):
    required_scope = READ

    @extend_schema(
        summary="Webhook deliveries: what was sent where, and how each attempt went",
        parameters=[OpenApiParameter("job", str, description="Only this job's deliveries.")],
        responses={
            200: s.WebhookDeliveryOutput(many=True),
            **doc.errors((400, "invalid_request: job is not an id."), *doc.auth_errors(READ)),
        },
    )
    def get(self, request):
        filters = valid(DeliveryFilters, request.query_params)
        deliveries = selectors.delivery_list(user=request.user, job=filters.get("job"))
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(s.WebhookDeliveryOutput(page, many=True).data)


class WebhookDeliveryDetail(SynthesisAPIView):
    required_scope = READ

    @extend_schema(
        summary="One webhook delivery",
        responses={
            200: s.WebhookDeliveryOutput,
            **doc.errors(*doc.auth_errors(READ), doc.NOT_FOUND),
        },
    )
    def get(self, request, code):
        delivery = selectors.delivery_get(user=request.user, code=code)
        return Response(s.WebhookDeliveryOutput(delivery).data)
