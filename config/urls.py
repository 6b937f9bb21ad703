from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from config import errors
from config.security import docs_csp, secure_admin_login
from provenance.urls import api_urlpatterns as provenance_api

# Admin signs in through allauth's login (and its two-factor step), never around it.
admin.site.login = secure_admin_login(admin.site.login)

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("voices.api.urls")),
    path("", include("synthesis.api.urls")),
    path("", include(provenance_api)),
]

# The split view serves its start-up script as a separate file (?script): no inline script.
swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="schema")

urlpatterns = [
    # /health/live, /health/ready, /metrics (served early by ops.middleware; routed here too)
    path("", include("ops.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", docs_csp(swagger_ui), name="swagger-ui"),
    path("api/redoc/", docs_csp(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    path("voices/", include("voices.urls")),
    path("", include("provenance.urls")),
    path("v1/", include("synthesis.compat.urls")),
    path("v2/", include("synthesis.compat.urls_v2")),
    path("", include("synthesis.pages.urls")),
    path("", include("synthesis.pages.history_urls")),
    path("", include("accounts.urls")),
]

handler404 = errors.not_found
handler500 = errors.server_error
