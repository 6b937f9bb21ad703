"""Every voices endpoint by every role: anonymous 401, stranger 404, missing scope 403."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.voices.helpers import key_client, make_consent, make_ready_voice, make_sample, wav_bytes

pytestmark = pytest.mark.django_db

OBJECT_ENDPOINTS = [
    ("get", "/api/v1/samples/{sample}"),
    ("delete", "/api/v1/samples/{sample}"),
    ("get", "/api/v1/samples/{sample}/audio"),
    ("get", "/api/v1/consents/{consent}"),
    ("post", "/api/v1/consents/{consent}/recording"),
    ("get", "/api/v1/voices/{voice}"),
    ("patch", "/api/v1/voices/{voice}"),
    ("delete", "/api/v1/voices/{voice}"),
    ("post", "/api/v1/voices/{voice}/consent"),
]
LIST_ENDPOINTS = [
    ("get", "/api/v1/samples"),
    ("post", "/api/v1/samples"),
    ("post", "/api/v1/consents"),
    ("get", "/api/v1/voices"),
    ("post", "/api/v1/voices"),
    ("post", "/api/v1/voices/mix"),
    ("get", "/api/v1/languages"),
]
ALL_ENDPOINTS = OBJECT_ENDPOINTS + LIST_ENDPOINTS


@pytest.fixture
def objects(owner):
    voice = make_ready_voice(owner, "Owned")
    return {
        "sample": make_sample(owner).code,
        "consent": make_consent(owner, recorded=False).code,
        "voice": voice.code,
    }


def call(client, method, path, objects):
    url = path.format(**objects)
    if method == "post" and url.endswith(("/recording", "/samples")):
        return client.post(url, {"file": _file()}, format="multipart")
    if method in ("post", "patch"):
        return getattr(client, method)(url, {"name": "x"}, format="json")
    return getattr(client, method)(url)


def _file():
    from django.core.files.base import ContentFile

    return ContentFile(wav_bytes(), name="take.wav")


@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
def test_anonymous_gets_401(objects, method, path):
    response = call(APIClient(), method, path, objects)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), OBJECT_ENDPOINTS)
def test_stranger_gets_404(objects, stranger, method, path):
    client = APIClient()
    client.force_login(stranger)
    response = call(client, method, path, objects)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("method", "path"), OBJECT_ENDPOINTS)
def test_stranger_with_an_api_key_gets_404(objects, stranger, method, path):
    response = call(key_client(stranger, ["all"]), method, path, objects)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), [e for e in ALL_ENDPOINTS if e[0] != "get"])
def test_read_only_key_cannot_write(objects, owner, method, path):
    response = call(key_client(owner, ["voices:read"]), method, path, objects)
    assert response.status_code == 403
    assert "voices:write" in response.json()["error"]["message"]


@pytest.mark.parametrize(("method", "path"), [e for e in ALL_ENDPOINTS if e[0] == "get"])
def test_read_scope_reads_and_other_scopes_do_not(objects, owner, method, path):
    assert call(key_client(owner, ["voices:read"]), method, path, objects).status_code == 200
    response = call(key_client(owner, ["tts"]), method, path, objects)
    assert response.status_code == 403
    assert "voices:read" in response.json()["error"]["message"]


def test_write_key_can_upload(owner):
    client = key_client(owner, ["voices:write"])
    response = client.post("/api/v1/samples", {"file": _file()}, format="multipart")
    assert response.status_code == 202
