"""POST /api/v1/voices/{id}/report: a user reports a voice to the administrators' flag queue."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from voices import selectors, services
from voices.api import serializers as s
from voices.api.views import AUTH_ERRORS, NOT_FOUND, VoicesAPIView, _actor, _valid, errors


class VoiceReport(VoicesAPIView):
    required_scopes = {"POST": "voices:write"}

    @extend_schema(
        summary="Report a voice to the administrators",
        description="Puts the voice in the moderation queue with your reason. Reporting the same "
        "voice again while your report is open returns that report.",
        request=s.VoiceReportInput,
        responses={
            201: s.VoiceReportOutput,
            **errors(
                (400, "invalid_request / reason_required / too_many_reports."),
                *AUTH_ERRORS,
                NOT_FOUND,
            ),
        },
    )
    def post(self, request, code):
        voice = selectors.voice_get(user=request.user, code=code)
        data = _valid(s.VoiceReportInput, request.data)
        flag = services.voice_report(
            user=request.user, voice=voice, reason=data["reason"], **_actor(request)
        )
        return Response(s.VoiceReportOutput(flag).data, status=status.HTTP_201_CREATED)
