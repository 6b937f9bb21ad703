from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config import errors

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("voices.api.urls")),
    path("", include("synthesis.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("voices/", include("voices.urls")),
    path("v1/", include("synthesis.compat.urls")),
    path("", include("synthesis.pages.urls")),
    path("", include("synthesis.pages.history_urls")),
    path("", include("accounts.urls")),
]

handler404 = errors.not_found
handler500 = errors.server_error
