"""A real HTTP server answers 413 before the client has sent the body it announced."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.models import Plan
from tests.voices.helpers import MULTIPART, multipart_body
from voices.models import Sample
from voices.uploads import MB

pytestmark = pytest.mark.django_db(transaction=True)

ANNOUNCED = 200 * MB  # what the client claims it will send
SENT = 2_000  # what it actually sends before waiting for an answer


def _announce_big_body(live_server, headers: dict) -> http.client.HTTPResponse:
    parts = urlsplit(live_server.url)
    # The timeout makes the test fail (instead of hang) if the server waits for the body.
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", "/api/v1/samples")
    for name, value in {
        **headers,
        "Content-Type": MULTIPART,
        "Content-Length": str(ANNOUNCED),
    }.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(multipart_body("huge.wav", b"\0" * SENT)[:SENT])
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


@pytest.fixture
def small_plan_owner(owner):
    owner.plan = Plan.objects.create(slug="small", name="Small", max_upload_mb=5)
    owner.save(update_fields=["plan"])
    return owner


def test_api_key_upload_gets_413_before_the_body(live_server, small_plan_owner):
    from accounts import services

    _, secret = services.api_key_create(user=small_plan_owner, name="k", scopes=["voices:write"])
    response = _announce_big_body(live_server, {"Authorization": f"Bearer {secret}"})
    assert response.status == 413
    assert b'"upload_too_large"' in response.body
    assert b"5 MB" in response.body
    assert not Sample.objects.exists()


def test_session_upload_gets_413_before_the_body(live_server, small_plan_owner):
    client = Client()
    client.force_login(small_plan_owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    response = _announce_big_body(live_server, {"Cookie": cookie})
    assert response.status == 413
    assert b'"upload_too_large"' in response.body


def test_anonymous_big_body_gets_401_without_reading_it(live_server, db):
    response = _announce_big_body(live_server, {})
    assert response.status == 401
