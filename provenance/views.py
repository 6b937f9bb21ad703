"""The public "Was this made here?" page: anyone (signed in or not) checks one audio file.

Checks are counted per client IP (RATE_LIMIT_PROVENANCE_CHECK). The upload size guard is
installed before the CSRF check reads the body (see voices.uploads), hence csrf_exempt outside
and csrf_protect inside.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django_ratelimit.core import get_usage

from config.net import client_ip
from config.service_errors import ServiceError
from provenance.api import refusal_status
from provenance.detection import DetectUnavailable, detect_answer, detect_submit
from provenance.forms import CheckForm
from voices.uploads import UploadTooLarge, upload_guard_install, upload_limit_bytes

TEMPLATE = "provenance/check.html"


@csrf_exempt  # the CSRF check reads the body: the size guard must be installed first
def check(request):
    if request.method != "POST":
        return render(request, TEMPLATE, {"form": CheckForm()})
    wait = _rate_limited(request)
    if wait is not None:
        message = f"Too many checks from your address. Try again in {wait} second(s)."
        response = render(request, TEMPLATE, {"form": CheckForm(), "error": message}, status=429)
        response["Retry-After"] = str(wait)
        return response
    try:
        upload_guard_install(request)
        return _check_post(request)
    except UploadTooLarge as exc:
        return render(request, TEMPLATE, {"form": CheckForm(), "error": exc.message}, status=413)


@csrf_protect
def _check_post(request):
    form = CheckForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, TEMPLATE, {"form": form}, status=400)
    try:
        result = detect_submit(
            upload=form.cleaned_data["file"], max_bytes=upload_limit_bytes(request.user)
        )
    except DetectUnavailable as exc:
        return render(request, TEMPLATE, {"form": form, "error": exc.message}, status=503)
    except ServiceError as exc:
        status = refusal_status(exc.code)
        return render(request, TEMPLATE, {"form": form, "error": exc.message}, status=status)
    answer = detect_answer(result, request=request)
    context = {"form": CheckForm(), "answer": answer, "name": form.cleaned_data["file"].name}
    return render(request, TEMPLATE, context)


def _rate_limited(request) -> int | None:
    """Seconds to wait when this IP is over its limit, else None (also when limits are off)."""
    ip = client_ip(request) or "unknown"
    usage = get_usage(
        request,
        group="provenance-check",
        key=lambda _group, _request: ip,
        rate=settings.RATE_LIMIT_PROVENANCE_CHECK,
        increment=True,
    )
    if usage is None or not usage["should_limit"]:
        return None
    return max(int(usage["time_left"]), 1)
