"""Bad input gets a clear 400, never a 500: NUL bytes and control characters in any text field,
junk pagination, and OPTIONS on every API endpoint."""

from __future__ import annotations

import pytest

from tests.synthesis.compat.support import api_key, bearer_client
from tests.voices.helpers import make_ready_voice, wav_bytes
from voices.models import Voice

pytestmark = pytest.mark.django_db


def _error(response, status=400) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


@pytest.mark.parametrize("bad", ["nul\x00name", "bell\x07", "escape\x1b[31m", "del\x7f"])
def test_control_characters_in_a_voice_name_are_refused(owner_client, owner, bad):
    voice = make_ready_voice(owner, "Clean")
    error = _error(owner_client.patch(f"/api/v1/voices/{voice.code}", {"name": bad}, format="json"))
    assert error["code"] == "invalid_characters" and "name" in error["message"]
    voice.refresh_from_db()
    assert voice.name == "Clean"  # nothing was written


def test_a_nul_byte_in_a_mix_formula_or_a_text_is_refused(owner_client, owner):
    make_ready_voice(owner, "Anna")
    mix = owner_client.post("/api/v1/voices/mix", {"name": "M", "mix": "Anna\x00:1"}, format="json")
    assert _error(mix)["code"] == "invalid_characters"
    job = owner_client.post("/api/v1/synthesis", {"text": "Hi\x00 there"}, format="json")
    assert _error(job)["code"] == "invalid_characters"
    assert not Voice.objects.filter(name="M").exists()


def test_tabs_and_newlines_are_fine(owner_client, owner):
    voice = make_ready_voice(owner, "Tabbed")
    response = owner_client.patch(
        f"/api/v1/voices/{voice.code}", {"description": "line one\nline\ttwo\r\n"}, format="json"
    )
    assert response.status_code == 200, response.content


def test_control_characters_in_a_query_string_are_refused(owner_client):
    error = _error(owner_client.get("/api/v1/synthesis", {"status": "queued\x00"}))
    assert error["details"]["field"] == "status"


def test_a_nul_byte_in_a_multipart_text_field_is_refused(owner):
    client = bearer_client(api_key(owner, "voices:write", "voices:read"))
    response = client.post(
        "/v1/voices/add",
        {"name": "Bad\x00name", "files": _file()},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert not Voice.objects.filter(owner=owner).exists()


def _file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("take.wav", wav_bytes(), content_type="audio/wav")


@pytest.mark.parametrize(
    "query", ["offset=abc", "offset=-1", "limit=0", "limit=x", "limit=68393989326973755392"]
)
def test_junk_pagination_is_refused(owner_client, query):
    error = _error(owner_client.get(f"/api/v1/synthesis?{query}"))
    assert query.split("=")[0] in error["details"]


def test_pagination_still_works(owner_client):
    assert owner_client.get("/api/v1/synthesis?offset=0&limit=5").status_code == 200
    big = owner_client.get("/api/v1/voices?limit=100000")
    assert big.status_code == 200 and big.json()["results"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/consents",
        "/api/v1/samples",
        "/api/v1/synthesis",
        "/api/v1/synthesis/batch",
        "/api/v1/synthesis/stream",
        "/api/v1/voices",
        "/api/v1/voices/mix",
        "/api/v1/webhooks/secret/rotate",
        "/api/v1/engines",
        "/v1/audio/speech",
        "/v1/voices/add",
    ],
)
def test_options_answers_on_every_endpoint(owner_client, path):
    response = owner_client.options(path)
    assert response.status_code == 200, response.content
    assert "name" in response.json()
