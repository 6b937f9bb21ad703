"""Security headers and the staff MFA requirement (settings: the "Security" section of base.py).

- `docs_csp`: the one relaxation of the Content-Security-Policy (django-csp's CSPMiddleware),
  for the API docs pages.
- `PermissionsPolicyMiddleware`: a Permissions-Policy header on every answer; the microphone is
  allowed (this origin only) where audio is recorded (PERMISSIONS_POLICY_MICROPHONE_VIEWS).
- `StaffMfaMiddleware`: with TIMBRE_REQUIRE_MFA_FOR_STAFF on, a staff user without an
  authenticator app is sent to set one up before any admin page.
"""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

__all__ = [
    "PermissionsPolicyMiddleware",
    "StaffMfaMiddleware",
    "docs_csp",
    "permissions_policy",
    "secure_admin_login",
]

# Features no Timbre page uses; "microphone" is added per view.
_PERMISSIONS_OFF = (
    "accelerometer",
    "camera",
    "display-capture",
    "geolocation",
    "gyroscope",
    "magnetometer",
    "midi",
    "payment",
    "usb",
)


def permissions_policy(*, microphone: bool) -> str:
    features = [f"{name}=()" for name in _PERMISSIONS_OFF]
    features.append("microphone=(self)" if microphone else "microphone=()")
    return ", ".join(sorted(features))


class PermissionsPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._with_microphone = permissions_policy(microphone=True)
        self._without = permissions_policy(microphone=False)

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        records = (
            match is not None and match.view_name in settings.PERMISSIONS_POLICY_MICROPHONE_VIEWS
        )
        response.setdefault(
            "Permissions-Policy", self._with_microphone if records else self._without
        )
        return response


def _has_second_factor(user) -> bool:
    from allauth.mfa.models import Authenticator  # the app registry is ready by request time

    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()


class StaffMfaMiddleware:
    """Before any admin page: a staff user without an authenticator app goes to set one up."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.TIMBRE_REQUIRE_MFA_FOR_STAFF:
            user = getattr(request, "user", None)
            if (
                user is not None
                and user.is_authenticated
                and user.is_staff
                and request.path_info.startswith(reverse("admin:index"))
                and not _has_second_factor(user)
            ):
                messages.warning(
                    request,
                    "This site requires two-factor authentication for staff: set up an "
                    "authenticator app to open the admin.",
                )
                return redirect("mfa_activate_totp")
        return self.get_response(request)


# The API docs pages run Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar),
# with no inline script. Both libraries set style attributes and <style> elements from script, and
# ReDoc runs its search in a blob: worker: those two views, and only they, may.
docs_csp = csp_update(
    {
        "style-src": ["'unsafe-inline'"],
        "worker-src": ["blob:"],
    }
)
