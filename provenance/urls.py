from django.urls import path

from provenance import api, views

app_name = "provenance"

# Included twice by config.urls: the API under /api/v1/, the page at the site root.
api_urlpatterns = [
    path("provenance/detect", api.ProvenanceDetect.as_view(), name="api-provenance-detect"),
]
urlpatterns = [
    path("provenance/check/", views.check, name="check"),
]
