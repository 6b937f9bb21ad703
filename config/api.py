"""One error shape for every API error: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.service_errors import ServiceError, http_status


class ApiError(exceptions.APIException):
    """An error a service raises with its own code and status, e.g. quota_exceeded / 402."""

    def __init__(self, *, code: str, message: str, status_code: int = 400, details=None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid_request",
}


def _message_and_details(exc: exceptions.APIException) -> tuple[str, dict]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return "The request is invalid; see details.", detail
    return str(exc.detail), {}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def service_error_response(exc: ServiceError) -> Response:
    """A service's refusal as the native API answers it: the one place a ServiceError gets its
    HTTP status (config.service_errors.HTTP_STATUS)."""
    return Response(error_body(exc.code, exc.message, exc.details), status=http_status(exc.code))


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return service_error_response(exc)
    if isinstance(exc, DjangoValidationError):
        # A service refusing input (with its own .code) is the client's 400, not a 500.
        code = getattr(exc, "code", None) or "invalid_request"
        exc = ApiError(code=code, message=" ".join(exc.messages))
    elif isinstance(exc, RequestDataTooBig):
        exc = ApiError(
            code="request_too_large",
            message="The request body is larger than the server accepts "
            "(DATA_UPLOAD_MAX_MEMORY_SIZE); send less at once.",
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: let Django log it and answer 500 (handled by handler500)
    if isinstance(exc, ApiError):
        code, message, details = exc.error_code, str(exc.detail), exc.details
    else:
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
        message, details = _message_and_details(exc)
    response.data = error_body(code, message, details)
    return response


def json_error_response(code: str, message: str, http_status: int = status.HTTP_400_BAD_REQUEST):
    return Response(error_body(code, message), status=http_status)


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorOutput(serializers.Serializer):
    """The one error shape of the native API (OpenAPI schema)."""

    error = ErrorDetail()
