"""The project's URLs plus one view that fails (a 5xx for the error metrics)."""

from django.urls import path

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_urls


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom, name="boom"), *project_urls]
