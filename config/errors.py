"""Error pages: the API error shape under /api/ and /v1/, HTML pages elsewhere."""

from django.http import JsonResponse
from django.shortcuts import render

from config.api import error_body

_API_PREFIXES = ("/api/", "/v1/")


def not_found(request, exception=None):
    if request.path.startswith(_API_PREFIXES):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith(_API_PREFIXES):
        body = error_body(
            "server_error",
            "Something went wrong on our side; it has been logged.",
            {"request_id": getattr(request, "request_id", "")},
        )
        return JsonResponse(body, status=500)
    return render(request, "500.html", status=500)
