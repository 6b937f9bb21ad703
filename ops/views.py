"""The operations endpoints. `ops.middleware.OpsEndpointsMiddleware` serves them ahead of the
host check, HTTPS redirect, sessions and rate limits, so that probes and scrapers that reach
the web process by its address (a container healthcheck, Prometheus) get an answer."""

from __future__ import annotations

import logging

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ops.access import metrics_refusal
from ops.health import readiness
from ops.metrics import exposition

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def live(request):
    """The process runs and answers: no database, broker or cache is asked."""
    return JsonResponse({"status": "live"})


@never_cache
@require_safe
def ready(request):
    """200 when this deployment can serve: database, broker, cache, storage and at least one
    synthesis worker with an engine ready; else 503 with what failed."""
    ok, checks = readiness()
    response = JsonResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503
    )
    if not ok:
        failing = ", ".join(f"{name}: {c['error']}" for name, c in checks.items() if not c["ok"])
        logger.warning("Not ready: %s", failing)
        response._has_been_logged = True  # one warning line, not django.request's ERROR
    return response


REFUSALS = {
    401: "A bearer token was given, and it is not METRICS_TOKEN.",
    403: "Metrics are open to METRICS_ALLOWED_NETWORKS or a bearer token (METRICS_TOKEN) only.",
}


@never_cache
@require_safe
def metrics(request):
    refusal = metrics_refusal(request)
    if refusal is not None:
        response = HttpResponse(
            REFUSALS[refusal] + "\n", status=refusal, content_type="text/plain; charset=utf-8"
        )
        if refusal == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)
