"""Pieces of the OpenAPI description the synthesis views share (drf-spectacular)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from config.api import ErrorOutput


def errors(*pairs: tuple[int, str]) -> dict:
    """Responses for the error statuses a view can answer, all in the one error shape."""
    merged: dict[int, str] = {}
    for code, text in pairs:
        merged[code] = f"{merged[code]} / {text}" if code in merged else text
    return {code: OpenApiResponse(ErrorOutput, description=text) for code, text in merged.items()}


def auth_errors(scope: str) -> tuple:
    return (
        (
            401,
            "not_authenticated / authentication_failed: no session or API key, or the key is "
            "wrong, revoked or expired.",
        ),
        (403, f"permission_denied: the API key lacks the {scope!r} scope."),
        (
            429,
            "rate_limited: too many requests (RATE_LIMIT_API per user, RATE_LIMIT_API_KEY per "
            "key); Retry-After says when to try again.",
        ),
    )


NOT_FOUND = (404, "not_found: no such object among yours (someone else's is a 404 too).")
BAD_INPUT = (
    400,
    "malformed_request (not JSON), invalid_request (see details), empty_text, text_too_long, "
    "unsupported_language, unsupported_format, unsupported_sample_rate, invalid_parameters, "
    "invalid_webhook_url, invalid_idempotency_key.",
)
VOICE_ERRORS = (
    (404, "voice_not_found: no such voice among yours and the stock voices."),
    (409, "voice_not_ready: the voice is still building or failed."),
)
QUOTA_ERRORS = (
    (
        402,
        "quota_exceeded (your plan's monthly characters; the message says when it resets), "
        "key_quota_exceeded (the key's monthly_character_cap), storage_exceeded.",
    ),
    (409, "idempotency_key_reused: the Idempotency-Key was used with another body."),
    (413, "request_too_large: the body is over DATA_UPLOAD_MAX_MEMORY_SIZE."),
    (429, "concurrent_jobs_exceeded: your plan's concurrent_jobs are all queued or running."),
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Any unique string (up to 255 printable characters). Repeating a request with "
    "the same key returns the first request's result and charges once; the same key with a "
    "different body is a 409.",
)
RANGE = OpenApiParameter(
    "Range",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="One byte range, e.g. bytes=0-1023, bytes=1024- or bytes=-500.",
)
QUOTA_HEADERS = [
    OpenApiParameter(
        "character-cost",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        description="Characters this request counts against your monthly quota.",
        response=[200, 202],
    ),
    OpenApiParameter(
        "x-ratelimit-remaining-characters",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        description="Characters left this month (limit in x-ratelimit-limit-characters).",
        response=[200, 202],
    ),
    OpenApiParameter(
        "x-ratelimit-remaining",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        description="Requests left in the current window (limit in x-ratelimit-limit, seconds "
        "to its reset in x-ratelimit-reset).",
        response=[200, 202],
    ),
]
