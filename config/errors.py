"""Error pages: the API error shape under /api/, /v1/ and /v2/, HTML pages elsewhere.

Under /v1/ and /v2/ (the OpenAI- and ElevenLabs-compatible APIs, synthesis.compat) an error that
no API view shaped carries both vendors' fields beside Timbre's own, so that either SDK reads it:
{"error": {"code", "message", "details", "type", "param"}, "detail": {"status", "message"}}.
The openai SDK reads `error.message/.type/.code/.param`; ElevenLabs clients read
`detail.status/.message`.
"""

from django.http import JsonResponse
from django.shortcuts import render

from config.api import error_body

API_PREFIXES = ("/api/", "/v1/", "/v2/")
COMPAT_PREFIXES = ("/v1/", "/v2/")
# OpenAI's error `type` by HTTP status (invalid_request_error otherwise; 5xx: server_error).
OPENAI_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                      429: "rate_limit_error", 402: "insufficient_quota"}  # fmt: skip


def api_error(request, status: int, code: str, message: str, details=None) -> JsonResponse:
    """An error in the shape of the API the request's path belongs to."""
    body = error_body(code, message, details)
    if request.path.startswith(COMPAT_PREFIXES):
        default = "server_error" if status >= 500 else "invalid_request_error"
        body["error"]["type"] = OPENAI_ERROR_TYPES.get(status, default)
        body["error"]["param"] = None
        body["detail"] = {"status": code, "message": message}
    return JsonResponse(body, status=status)


def not_found(request, exception=None):
    if request.path.startswith(API_PREFIXES):
        return api_error(request, 404, "not_found", f"Nothing at {request.path!r}.")
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith(API_PREFIXES):
        return api_error(
            request,
            500,
            "server_error",
            "Something went wrong on our side; it has been logged.",
            {"request_id": getattr(request, "request_id", "")},
        )
    return render(request, "500.html", status=500)
