"""Request metrics, and the operations endpoints served before the rest of the stack."""

from __future__ import annotations

import time

from django.urls import Resolver404, resolve

from ops.metrics import request_observe

UNRESOLVED = "<unresolved>"
# Served ahead of ALLOWED_HOSTS, the HTTPS redirect, sessions and rate limits (ops.views).
OPS_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})


class RequestMetricsMiddleware:
    """Times every request and counts it by resolved route name (bounded: never the raw path),
    method and status class. First in MIDDLEWARE, so it sees what every other layer costs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.route or UNRESOLVED) if match else UNRESOLVED
        request_observe(
            view=view,
            method=request.method or "",
            status_code=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


class OpsEndpointsMiddleware:
    """Answers /health/live, /health/ready and /metrics itself (views in ops.urls)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in OPS_PATHS:
            try:
                match = resolve(request.path_info)
            except Resolver404:  # not routed in this URL configuration: the normal stack
                return self.get_response(request)
            request.resolver_match = match
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
