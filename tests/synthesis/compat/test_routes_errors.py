"""Errors on /v1/ and /v2/ that no view shaped (unknown route, wrong method, crash) are JSON that
both vendors' SDKs read, whatever DEBUG is (issue 13, item 4); /api/ keeps Timbre's own shape."""

from __future__ import annotations

import json

import pytest
from django.http import HttpResponseNotAllowed, HttpResponseServerError
from django.test import RequestFactory

from config.middleware import ApiErrorShapeMiddleware
from tests.synthesis.compat.support import api_key, eleven_client, openai_client

pytestmark = pytest.mark.django_db


def _both_shapes(body: dict, code: str) -> None:
    error, detail = body["error"], body["detail"]
    assert error["code"] == detail["status"] == code
    assert error["message"] == detail["message"] and error["message"]
    assert error["type"] and "param" in error and "details" in error


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/v1/nope", "/v2/nope", "/v2/voices/x/y", "/v1/voices/a/b/c"])
def test_unknown_routes_answer_both_vendor_shapes(client, settings, debug, path):
    settings.DEBUG = debug
    response = client.get(path)
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    _both_shapes(response.json(), "not_found")
    assert response.json()["error"]["type"] == "not_found_error"
    assert response["API-Version"]


def test_api_keeps_timbres_own_shape(client):
    body = client.get("/api/v1/nope").json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("path", ["/v1/anything", "/v2/anything"])
def test_a_plain_405_and_a_debug_crash_get_both_shapes(path):
    request = RequestFactory().delete(path)
    refused = ApiErrorShapeMiddleware(lambda r: HttpResponseNotAllowed(["GET"]))(request)
    assert (refused.status_code, refused["Allow"]) == (405, "GET")
    _both_shapes(json.loads(refused.content), "method_not_allowed")
    # With DEBUG on Django answers a crash with its HTML page; API clients get JSON.
    crashed = ApiErrorShapeMiddleware(lambda r: HttpResponseServerError("<html>"))(request)
    assert (crashed.status_code, crashed["Content-Type"]) == (500, "application/json")
    body = json.loads(crashed.content)
    _both_shapes(body, "server_error")
    assert body["error"]["type"] == "server_error"
    page = ApiErrorShapeMiddleware(lambda r: HttpResponseServerError("<html>"))(
        RequestFactory().get("/voices/")
    )
    assert page["Content-Type"].startswith("text/html")


def test_control_characters_in_a_v2_query_are_refused_in_both_shapes(client):
    response = client.get("/v2/voices", {"search": "a\x00b"})
    assert response.status_code == 400
    _both_shapes(response.json(), "invalid_characters")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [False, True])
def test_both_sdks_read_routing_errors(live_server, owner, settings, debug):
    import openai
    from elevenlabs.core.api_error import ApiError as ElevenApiError

    settings.DEBUG = debug
    secret = api_key(owner, "tts", "history:read")
    oai = openai_client(live_server, secret)
    with pytest.raises(openai.NotFoundError) as failure:
        oai.get("/no-such-route", cast_to=object)
    assert (failure.value.code, failure.value.type) == ("not_found", "not_found_error")
    assert "/v1/no-such-route" in failure.value.message  # the SDK puts error.message in it
    with pytest.raises(openai.APIStatusError) as failure:
        oai.delete("/models", cast_to=object)
    assert (failure.value.status_code, failure.value.code) == (405, "method_not_allowed")
    eleven = eleven_client(live_server, secret)
    with pytest.raises(ElevenApiError) as failure:
        eleven.dubbing.list()  # not offered here: GET /v1/dubbing
    assert failure.value.status_code == 404
    assert failure.value.body["detail"]["status"] == "not_found"
    with pytest.raises(ElevenApiError) as failure:
        eleven.history.delete("6f1c1f8e-2b1a-4bfb-9a51-000000000000")  # a GET-only route
    assert failure.value.status_code == 405
    assert failure.value.body["detail"]["status"] == "method_not_allowed"
