"""POST /api/v1/provenance/detect without a worker: input checks, auth, and the 503s."""

from __future__ import annotations

import io

import pytest
from rest_framework.test import APIClient

from provenance import detection
from tests.synthesis.compat.support import api_key, bearer_client

URL = "/api/v1/provenance/detect"


def _file(name="clip.wav", data=b"RIFF0000WAVEfmt "):
    upload = io.BytesIO(data)
    upload.name = name
    return upload


@pytest.mark.django_db
def test_anonymous_callers_are_refused(api_client):
    response = api_client.post(URL, {"file": _file()}, format="multipart")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_no_file_is_a_400(owner_client):
    response = owner_client.post(URL, {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["details"]


@pytest.mark.django_db
def test_json_body_is_a_415(owner_client):
    response = owner_client.post(URL, {"file": "x"}, format="json")
    assert response.status_code == 415


@pytest.mark.django_db
def test_no_worker_in_time_is_a_503_and_the_upload_is_not_kept(owner, settings, monkeypatch):
    sent = []
    monkeypatch.setattr(detection, "task_send", lambda task, **kw: sent.append(kw) or True)
    settings.PROVENANCE_DETECT_WAIT_SECONDS = 0.3
    # Any key will do, whatever its scopes: the answer says nothing about the caller's account.
    client = bearer_client(api_key(owner, "usage:read"))
    response = client.post(URL, {"file": _file()}, format="multipart")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "detect_unavailable"
    assert "-Q audio" in response.json()["error"]["message"]
    from django.core.files.storage import default_storage

    assert len(sent) == 1 and not default_storage.exists(sent[0]["upload_name"])


@pytest.mark.django_db
def test_broker_down_is_a_503(owner_client, monkeypatch):
    monkeypatch.setattr(detection, "task_send", lambda task, **kw: False)
    response = owner_client.post(URL, {"file": _file()}, format="multipart")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "detect_unavailable"


@pytest.mark.django_db
def test_over_the_plan_upload_limit_is_a_413_before_the_worker(owner, monkeypatch):
    from voices.uploads import upload_limit_bytes

    monkeypatch.setattr(detection, "task_send", lambda task, **kw: pytest.fail("queued"))
    client = APIClient()
    client.force_login(owner)
    big = _file(data=b"\0" * (upload_limit_bytes(owner) + 1))
    response = client.post(URL, {"file": big}, format="multipart")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"


def test_the_schema_documents_formats_without_credentials():
    from provenance.api import DESCRIPTION

    assert "Opus" in DESCRIPTION and "PCM" in DESCRIPTION
