"""What the OpenAI- and ElevenLabs-compatible endpoints share: finding the voice, starting the
stream job, relaying its audio, and turning every refusal into Timbre's error shape."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from rest_framework import exceptions, permissions, status
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.api.auth import request_api_key
from config.api import ApiError
from synthesis.api.responses import job_stream_response, quota_headers
from synthesis.jobs import services
from synthesis.jobs.checks import voice_sample_rate
from synthesis.jobs.encoding import EncodeOptions, EncodingError, check_options
from synthesis.models import SynthesisJob
from voices import selectors as voice_selectors
from voices.models import Voice

# Service refusals (ValidationError codes) that are not a plain 400.
_STATUS_FOR_CODE = {"voice_not_ready": status.HTTP_409_CONFLICT}


class CompatView(APIView):
    """Base view: errors stay JSON whatever the client accepts (the SDKs ask for audio)."""

    # Not in Timbre's OpenAPI schema: these follow OpenAI's and ElevenLabs' own API references
    # (the differences are listed in synthesis.compat).
    schema = None

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class HasAnyScope(permissions.BasePermission):
    """For endpoints that more than one scope may use (the view's `any_scope`)."""

    def has_permission(self, request, view):
        key, scopes = request_api_key(request), getattr(view, "any_scope", ())
        if key is None or not scopes or any(key.allows(scope) for scope in scopes):
            return True
        raise exceptions.PermissionDenied(
            f"This API key needs one of these scopes: {', '.join(scopes)}."
        )


ANY_SCOPE_PERMISSIONS = [*api_settings.DEFAULT_PERMISSION_CLASSES, HasAnyScope]


# --- input ------------------------------------------------------------------------------------
def _first_error(errors, path: str = "") -> tuple[str, str]:
    if isinstance(errors, dict):
        field, inner = next(iter(errors.items()))
        name = path if field == "non_field_errors" else f"{path}.{field}".strip(".")
        return _first_error(inner, name)
    if isinstance(errors, list) and errors:
        return _first_error(errors[0], path)
    return path, str(errors)


def valid(serializer_class, data, *, codes: dict | None = None) -> dict:
    """Validated data, or a 400 whose message names the first bad field (SDKs show it)."""
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return serializer.validated_data
    field, message = _first_error(serializer.errors)
    top = field.split(".", 1)[0]
    raise ApiError(
        code=(codes or {}).get(top, "invalid_request"),
        message=f"{field}: {message}" if field else message,
        details=serializer.errors,
    )


def voice_not_found(reference) -> ApiError:
    return ApiError(
        code="voice_not_found",
        message=f"No voice {str(reference)!r} among your voices and the stock voices "
        "(list them with GET /v1/voices or GET /v1/audio/voices).",
        status_code=status.HTTP_404_NOT_FOUND,
    )


def voice_by_id(user, value) -> Voice:
    """A voice the user may use, by its public id; anything else is a 404."""
    try:
        code = uuid.UUID(str(value))
    except ValueError:
        raise voice_not_found(value) from None
    try:
        return voice_selectors.voice_get(user=user, code=code)
    except Http404:
        raise voice_not_found(value) from None


def voice_by_reference(user, value: str) -> Voice:
    """By id, else by name: case-insensitive, the user's own voices before stock voices, an
    exact-case match before other spellings."""
    value = value.strip()
    try:
        return voice_by_id(user, value)
    except ApiError:
        pass
    matches = list(voice_selectors.voice_list(user=user).filter(name__iexact=value))
    ranked = sorted(matches, key=lambda v: (v.is_stock, v.name != value, v.pk))
    if not ranked:
        raise voice_not_found(value)
    rank = (ranked[0].is_stock, ranked[0].name != value)
    if len(ranked) > 1 and (ranked[1].is_stock, ranked[1].name != value) == rank:
        raise ApiError(
            code="voice_ambiguous",
            message=f"More than one voice is named like {value!r}; use its id or exact name.",
            details={"ids": [str(v.code) for v in ranked]},
        )
    return ranked[0]


def job_params(**given) -> dict:
    """The parameters the client sent (site defaults are applied by the job service)."""
    return {name: value for name, value in given.items() if value is not None}


def encode_options(voice: Voice, *, fmt: str, sample_rate=None, bitrate=None) -> EncodeOptions:
    """Checked encoding options from the voice's engine rate to what the client asked for."""
    rate_in = voice_sample_rate(voice)
    try:
        return check_options(
            fmt=fmt, sample_rate_in=rate_in, sample_rate_out=sample_rate, bitrate=bitrate
        )
    except EncodingError as exc:
        raise ApiError(code="unsupported_format", message=str(exc)) from None


# --- jobs -------------------------------------------------------------------------------------
def service_error(exc: ValidationError) -> ApiError:
    code = getattr(exc, "code", None) or "invalid_request"
    return ApiError(
        code=code,
        message=" ".join(exc.messages),
        status_code=_STATUS_FOR_CODE.get(code, status.HTTP_400_BAD_REQUEST),
    )


def job_start(
    request, *, voice: Voice, text: str, language: str, options: EncodeOptions, params: dict
) -> SynthesisJob:
    """A stream job through synthesis.jobs.services (quota, audit and queueing happen there)."""
    limit = settings.SYNTHESIS_STREAM_MAX_CHARACTERS
    if len(text) > limit:
        raise ApiError(
            code="text_too_long",
            message=f"Up to {limit:,} characters per request here ({len(text):,} sent); send "
            "longer texts to POST /api/v1/synthesis, which makes a job to download later.",
        )
    try:
        return services.job_create(
            owner=request.user,
            voice=voice,
            text=text,
            language=language or voice.language or "en",
            output_format=options.format.name,
            sample_rate=options.sample_rate_out,
            params=params,
            stream=True,
            request=request,
            api_key=request_api_key(request),
        )
    except Voice.DoesNotExist:
        raise voice_not_found(voice.code) from None
    except ValidationError as exc:
        raise service_error(exc) from None


# --- audio ------------------------------------------------------------------------------------
def stream_answer(request, job: SynthesisJob, options: EncodeOptions, *, content_type=None):
    """The audio of a stream job while it is generated (synthesis.api.responses), with the
    quota headers; or the JSON error when no audio came."""
    response = job_stream_response(
        request,
        job,
        fmt=options.format.name,
        sample_rate_in=options.sample_rate_in,
        sample_rate_out=options.sample_rate_out,
        bitrate=options.bitrate,
    )
    flowing = isinstance(response, StreamingHttpResponse)
    if content_type and flowing:
        response["Content-Type"] = content_type
    # A job that produced nothing was cancelled or failed, and refunded: it cost nothing.
    quota_headers(response, user=request.user, cost=job.characters if flowing else None)
    return no_retry_on_failure(response)


def no_retry_on_failure(response):
    """The OpenAI SDK retries 5xx answers (unless told not to); a failed synthesis would only
    fail the same way again."""
    if response.status_code == status.HTTP_502_BAD_GATEWAY:
        response["x-should-retry"] = "false"
    return response
