"""Rate limits (django-ratelimit on the cache: Redis when REDIS_URL is set).

- Signup, login and the two-factor code: POSTs per client IP (RATE_LIMIT_SIGNUP, RATE_LIMIT_LOGIN);
  password reset requests per client IP (RATE_LIMIT_PASSWORD_RESET) and per email address asked
  for (RATE_LIMIT_PASSWORD_RESET_EMAIL). Enforced by `AuthRateLimitMiddleware` in front of
  allauth's views.
- API: requests per user (RATE_LIMIT_API, all of a user's keys and sessions together) and per
  API key (RATE_LIMIT_API_KEY), enforced by `ApiRateThrottle` (a DRF throttle) after
  authentication. Every API answer carries x-ratelimit-limit / -remaining / -reset for the
  tighter of the two (`RateLimitHeadersMiddleware`).

The client IP is config.net.client_ip: only the proxies the operator declared (NUM_PROXIES)
are believed, so a forged X-Forwarded-For does not move a client into a fresh bucket.
Answers over the limit are 429 with Retry-After, in the API's error shape.
"""

from __future__ import annotations

import math

from django.apps import apps
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django_ratelimit.core import get_usage
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from config.net import client_ip

REQUEST_ATTR = "timbre_rate_limit"


class RateLimited(exceptions.Throttled):
    """A DRF 429: the exception handler writes the error shape and Retry-After from `wait`."""

    default_code = "rate_limited"


def _usage(request, *, group: str, value: str, rate: str, increment: bool = True) -> dict | None:
    # A cache outage never reaches here as an error: the Redis cache fails open (config.cache).
    usage = get_usage(
        request, group=group, key=lambda _group, _request: value, rate=rate, increment=increment
    )
    if usage is None:  # RATELIMIT_ENABLE is off
        return None
    return {
        "limit": usage["limit"],
        "remaining": max(usage["limit"] - usage["count"], 0),
        "reset": max(usage["time_left"], 0),
        "limited": usage["should_limit"],
    }


# --- API -----------------------------------------------------------------------------------------
def api_rate_check(request) -> dict | None:
    """Count this API request against its user's and its key's limits.

    Returns the tighter limit's {limit, remaining, reset, limited} (also kept on the request for
    the response headers), or None when rate limiting is off or nobody is signed in.
    """
    from accounts.api.auth import request_api_key

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    checks = [_usage(request, group="api-user", value=str(user.code), rate=settings.RATE_LIMIT_API)]
    key = request_api_key(request)
    if key is not None:
        checks.append(
            _usage(request, group="api-key", value=key.prefix, rate=settings.RATE_LIMIT_API_KEY)
        )
    checks = [check for check in checks if check is not None]
    if not checks:
        return None
    limited = [check for check in checks if check["limited"]]
    tightest = (
        max(limited, key=lambda c: c["reset"])
        if limited
        else min(checks, key=lambda c: (c["remaining"], -c["reset"]))
    )
    setattr(getattr(request, "_request", request), REQUEST_ATTR, tightest)
    return tightest


class ApiRateThrottle(BaseThrottle):
    """The API's per-user and per-key request limits (REST_FRAMEWORK DEFAULT_THROTTLE_CLASSES)."""

    def allow_request(self, request, view):
        state = api_rate_check(request)
        if state is not None and state["limited"]:
            wait = max(state["reset"], 1)
            raise RateLimited(
                wait=wait,
                detail=(
                    f"Too many requests: the limit is {state['limit']} per window. "
                    f"Retry in {wait} second(s)."
                ),
            )
        return True


def rate_limit_headers(response, request) -> None:
    """Copy the request's rate-limit state into x-ratelimit-* headers (when it was counted)."""
    state = getattr(request, REQUEST_ATTR, None)
    if not state:
        return
    response["x-ratelimit-limit"] = str(state["limit"])
    response["x-ratelimit-remaining"] = str(state["remaining"])
    response["x-ratelimit-reset"] = str(state["reset"])


class RateLimitHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        rate_limit_headers(response, request)
        return response


# --- signup, login, two-factor codes and password reset ----------------------------------------
class AuthRateLimitMiddleware:
    """POSTs to allauth's signup, login, two-factor and password reset views, per client IP.

    Password reset requests are also counted per email address asked for, whether or not an
    account has it (the answer is the same either way: no user enumeration).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._paths = None

    def _limits(self) -> dict:
        if self._paths is None:
            self._paths = {
                reverse("account_login"): ("login", "RATE_LIMIT_LOGIN"),
                reverse("account_signup"): ("signup", "RATE_LIMIT_SIGNUP"),
                reverse("account_reset_password"): ("password reset", "RATE_LIMIT_PASSWORD_RESET"),
            }
            if apps.is_installed("allauth.mfa"):
                # A six-digit code after a right password: as many tries as logins.
                self._paths[reverse("mfa_authenticate")] = ("login", "RATE_LIMIT_LOGIN")
        return self._paths

    def __call__(self, request):
        if request.method == "POST" and request.path in self._limits():
            what, setting = self._limits()[request.path]
            ip = client_ip(request) or "unknown"
            group = "auth-" + what.replace(" ", "-")
            checks = [_usage(request, group=group, value=ip, rate=getattr(settings, setting))]
            if setting == "RATE_LIMIT_PASSWORD_RESET":
                email = request.POST.get("email", "").strip().lower()[:254]
                if email:
                    checks.append(
                        _usage(
                            request,
                            group="auth-password-reset-email",
                            value=email,
                            rate=settings.RATE_LIMIT_PASSWORD_RESET_EMAIL,
                        )
                    )
            limited = [state for state in checks if state is not None and state["limited"]]
            if limited:
                wait = max(max(state["reset"] for state in limited), 1)
                return too_many_attempts(request, what=what, wait=wait)
        return self.get_response(request)


def too_many_attempts(request, *, what: str, wait: int) -> HttpResponse:
    minutes = math.ceil(wait / 60)
    message = f"Too many {what} attempts from your address. Try again in {wait} second(s)" + (
        f" (about {minutes} minute(s))." if wait >= 60 else "."
    )
    if "text/html" in request.headers.get("Accept", ""):
        response = HttpResponse(
            format_html(
                "<!doctype html><title>Too many attempts · Timbre</title>"
                '<link rel="stylesheet" href="{}">'
                '<main class="narrow"><h1>Too many attempts</h1><p>{}</p>'
                '<p><a href="{}">Back</a></p></main>',
                static("css/timbre.css"),
                message,
                request.path,
            ),
            status=429,
        )
    else:
        from config.api import error_body  # not at import: DRF loads this module early

        response = JsonResponse(
            error_body("rate_limited", message, {"retry_after": wait}), status=429
        )
    response["Retry-After"] = str(wait)
    return response
