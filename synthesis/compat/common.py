"""What the OpenAI- and ElevenLabs-compatible endpoints share: finding the voice, starting the
stream job, relaying its audio, and turning every refusal into Timbre's error shape."""

from __future__ import annotations

from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework import exceptions, permissions, status
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.api.auth import request_api_key
from config.api import ApiError
from config.api import exception_handler as api_exception_handler
from config.errors import OPENAI_ERROR_TYPES
from synthesis.api.responses import job_stream_response, quota_headers
from synthesis.jobs import services
from synthesis.jobs.catalog import speaking_engine
from synthesis.jobs.encoding import EncodeOptions, EncodingError, check_options
from synthesis.models import SynthesisJob
from voices.models import Voice


def openai_errors(exc, context):
    """Errors as OpenAI answers them: {"error": {"message", "type", "param", "code"}} (Timbre's
    `details` ride along). Statuses are the native API's (config.api)."""
    response = api_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" in response.data:
        error = response.data["error"]
        # OpenAI's error `type` by HTTP status (its SDK reads `error.message/.type/.code`).
        error.setdefault(
            "type", OPENAI_ERROR_TYPES.get(response.status_code, "invalid_request_error")
        )
        error.setdefault("param", None)
    return response


def elevenlabs_errors(exc, context):
    """Errors as ElevenLabs answers them: {"detail": {"status", "message"}}, beside Timbre's
    own {"error": {...}} shape. Statuses are the native API's (config.api)."""
    response = api_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" in response.data:
        error = response.data["error"]
        response.data["detail"] = {"status": error["code"], "message": error["message"]}
    return response


class CompatView(APIView):
    """Base view: errors stay JSON whatever the client accepts (the SDKs ask for audio)."""

    # Not in Timbre's OpenAPI schema: these follow OpenAI's and ElevenLabs' own API references
    # (the differences are listed in synthesis.compat).
    schema = None
    # How a refusal is shaped for this vendor's clients (every ServiceError maps here once).
    error_handler = staticmethod(openai_errors)

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    def get_exception_handler(self):
        return self.error_handler


class ElevenLabsView(CompatView):
    error_handler = staticmethod(elevenlabs_errors)


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


def job_params(**given) -> dict:
    """The parameters the client sent (site defaults are applied by the job service)."""
    return {name: value for name, value in given.items() if value is not None}


def encode_options(
    voice: Voice, *, fmt: str, sample_rate=None, bitrate=None, engine: str = ""
) -> EncodeOptions:
    """Checked encoding options from the rate of the engine that speaks (the request's model,
    "" = the default) to what the client asked for."""
    rate_in = speaking_engine(voice, engine).sample_rate
    try:
        return check_options(
            fmt=fmt, sample_rate_in=rate_in, sample_rate_out=sample_rate, bitrate=bitrate
        )
    except EncodingError as exc:
        raise ApiError(code="unsupported_format", message=str(exc)) from None


# --- jobs -------------------------------------------------------------------------------------
def job_start(
    request,
    *,
    voice: Voice,
    text: str,
    language: str,
    options: EncodeOptions,
    params: dict,
    timestamps: bool = False,
    engine: str = "",
) -> SynthesisJob:
    """A stream job through synthesis.jobs.services (quota, audit and queueing happen there),
    spoken by `engine` (the request's model; "" = the default model); with `timestamps` it also
    sends and stores character timings (synthesis.jobs.alignment)."""
    limit = settings.SYNTHESIS_STREAM_MAX_CHARACTERS
    if len(text) > limit:
        raise ApiError(
            code="text_too_long",
            message=f"Up to {limit:,} characters per request here ({len(text):,} sent); send "
            "longer texts to POST /api/v1/synthesis, which makes a job to download later.",
        )
    return services.job_create(
        owner=request.user,
        voice=voice,
        text=text,
        language=language,
        output_format=options.format.name,
        sample_rate=options.sample_rate_out,
        bitrate=options.bitrate,  # the stored file matches the streamed one
        params=params,
        stream=True,
        timestamps=timestamps,
        engine=engine,
        request=request,
        api_key=request_api_key(request),
    )


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
