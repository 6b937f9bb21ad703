"""CORS: browser clients on the configured origins may call the API (/api/, /v1/), nobody else."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.voices.helpers import key_client

pytestmark = pytest.mark.django_db

ALLOWED = "https://app.example.com"


@pytest.fixture(autouse=True)
def origins(settings):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]


def preflight(path: str, origin: str, headers: str = "authorization, content-type"):
    return Client().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize("path", ["/api/v1/synthesis", "/v1/audio/speech", "/v1/text-to-speech/x"])
def test_preflight_from_an_allowed_origin(path):
    response = preflight(path, ALLOWED, "authorization, xi-api-key, content-type")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    allowed_headers = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "xi-api-key", "content-type"} <= allowed_headers
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response


def test_preflight_from_another_origin_is_not_allowed():
    response = preflight("/api/v1/synthesis", "https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response


def test_pages_outside_the_api_never_answer_cors():
    for path in ("/accounts/login/", "/dashboard/", "/admin/"):
        response = preflight(path, ALLOWED)
        assert "Access-Control-Allow-Origin" not in response, path


def test_no_origin_is_allowed_by_default(settings):
    settings.CORS_ALLOWED_ORIGINS = []
    assert "Access-Control-Allow-Origin" not in preflight("/api/v1/synthesis", ALLOWED)


def test_an_allowed_origin_reads_an_api_answer(owner):
    client = key_client(owner, ["all"])
    response = client.get("/api/v1/voices", HTTP_ORIGIN=ALLOWED)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert "x-ratelimit-remaining" in response["Access-Control-Expose-Headers"]
    other = client.get("/api/v1/voices", HTTP_ORIGIN="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in other
