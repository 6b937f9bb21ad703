"""Request-wide middleware: a request id for logs and audit, the API version header, and the API's
error shape for routing errors (404/405) that no API view produced."""

import logging
import re
import uuid

from django.conf import settings

from config.errors import API_PREFIXES, COMPAT_PREFIXES, api_error, server_error
from config.logs import request_id_var

logger = logging.getLogger("timbre.request")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (a proxy's X-Request-ID when it is sane) and echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Log records made while the request runs carry its id (config.logs.RequestIdFilter).
        token = request_id_var.set(request.request_id)
        try:
            if logger.isEnabledFor(logging.DEBUG):  # through the scrubbing filter, like all
                headers = dict(request.headers)
                logger.debug("%s %s headers=%s", request.method, request.path, headers)
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class ApiVersionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(API_PREFIXES):
            response["API-Version"] = settings.API_VERSION
        return response


# HTML pages that live under /api/ (the docs): their own errors stay pages.
_API_PAGES = ("/api/docs/", "/api/redoc/")


class ApiErrorShapeMiddleware:
    """Under /api/, /v1/ and /v2/ a client always gets JSON in the error shape (on /v1/ and /v2/
    one that both vendors' SDKs read, config.errors.api_error).

    An unknown route or a method a plain Django view refuses would otherwise answer HTML (Django's
    debug page when DEBUG is on, where handler404 never runs); so would a crash on /v1/ or /v2/
    with DEBUG on (the traceback is logged all the same). DRF views answer JSON themselves and are
    left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        status = response.status_code
        crashed = status == 500 and request.path.startswith(COMPAT_PREFIXES)
        if (status not in (404, 405) and not crashed) or not _is_api(request.path):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if crashed:
            return server_error(request)
        if status == 404:
            return api_error(request, 404, "not_found", f"No API route {request.path!r}.")
        allowed = response.get("Allow", "")
        answer = api_error(
            request,
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here.",
            {"allowed": [m.strip() for m in allowed.split(",") if m.strip()]},
        )
        if allowed:
            answer["Allow"] = allowed
        return answer


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES) and not path.startswith(_API_PAGES)
