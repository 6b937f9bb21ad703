"""Request-wide middleware: a request id for logs and audit, and the API version header."""

import logging
import re
import uuid

from django.conf import settings

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
        if request.path.startswith(("/api/", "/v1/")):
            response["API-Version"] = settings.API_VERSION
        return response
