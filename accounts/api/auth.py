"""API-key authentication and scope checks for DRF.

Keys are accepted the ways the clients we are compatible with send them:
`Authorization: Bearer <key>` (OpenAI SDKs), `Authorization: Api-Key <key>`, and
`xi-api-key: <key>` (ElevenLabs SDKs).
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from accounts.models import UserAPIKey


def key_from_request(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "api-key") and value.strip():
        return value.strip()
    return request.headers.get("xi-api-key", "").strip() or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = key_from_request(request)
        if raw is None:
            return None
        try:
            key = UserAPIKey.objects.get_from_key(raw)
        except UserAPIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.") from None
        if key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if key.user.suspended_at is not None:
            raise account_suspended_error(key.user)
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("This account is disabled.")
        UserAPIKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return key.user, key

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to requests without credentials.
        return 'Bearer realm="api"'


def account_suspended_error(user) -> exceptions.APIException:
    """403 `account_suspended`: the key is right, but its owner's account is suspended."""
    # Imported here: DRF's settings import this module while rest_framework.views loads.
    from config.api import ApiError

    return ApiError(
        code="account_suspended",
        message="This account is suspended, so its API keys are refused. Contact the operator "
        "of this service.",
        status_code=403,
        details={"reason": user.suspension_reason, "suspended_at": user.suspended_at},
    )


def request_api_key(request) -> UserAPIKey | None:
    return request.auth if isinstance(request.auth, UserAPIKey) else None


class HasScope(permissions.BasePermission):
    """Session users may do anything their account may; keys only what their scopes allow.

    A view names its scope in `required_scope` (or `required_scopes` per HTTP method).
    """

    def has_permission(self, request, view):
        key = request_api_key(request)
        if key is None:
            return True
        scope = _scope_for(view, request.method)
        if scope and not key.allows(scope):
            raise exceptions.PermissionDenied(f"This API key lacks the {scope!r} scope.")
        return True


def _scope_for(view, method: str) -> str | None:
    per_method = getattr(view, "required_scopes", None)
    if per_method:
        return per_method.get(method, per_method.get("*"))
    return getattr(view, "required_scope", None)


try:  # the OpenAPI schema declares each way a key is sent, so that clients and docs can send it
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
        """Three alternative schemes (any one will do) for the one API-key authentication."""

        target_class = "accounts.api.auth.ApiKeyAuthentication"
        name = ["bearerAuth", "apiKeyAuth", "xiApiKey"]

        def get_security_requirement(self, auto_schema):
            return [{name: []} for name in self.name]  # OR, not AND

        def get_security_definition(self, auto_schema):
            return [
                {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from the dashboard's API keys page, as "
                    "`Authorization: Bearer <key>` (what OpenAI SDKs send).",
                },
                {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The same key as `Authorization: Api-Key <key>`: type "
                    "`Api-Key <key>` here.",
                },
                {
                    "type": "apiKey",
                    "in": "header",
                    "name": "xi-api-key",
                    "description": "The same key as `xi-api-key: <key>` (what ElevenLabs SDKs "
                    "send).",
                },
            ]
except ImportError:  # pragma: no cover - drf-spectacular is a base requirement
    pass
