"""The public "Was this made here?" page (no worker needed for these)."""

from __future__ import annotations

import io
import uuid

import pytest
from django.test import Client

from provenance import detection

URL = "/provenance/check/"


def _ip() -> str:
    # A fresh address per test: the per-IP counter lives in the shared cache.
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@pytest.mark.django_db
def test_anonymous_visitors_get_the_form():
    response = Client().get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'enctype="multipart/form-data"' in body and 'name="file"' in body
    assert "<script>" not in body  # strict CSP: no inline script


@pytest.mark.django_db
def test_checks_are_rate_limited_per_ip(settings):
    settings.RATE_LIMIT_PROVENANCE_CHECK = "2/m"
    client, ip = Client(), _ip()
    for _ in range(2):
        assert client.post(URL, {}, REMOTE_ADDR=ip).status_code == 400  # no file: a form error
    limited = client.post(URL, {}, REMOTE_ADDR=ip)
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert "Too many checks" in limited.content.decode()
    assert client.post(URL, {}, REMOTE_ADDR=_ip()).status_code == 400  # another address


@pytest.mark.django_db
def test_no_worker_is_a_503_page(settings, monkeypatch):
    monkeypatch.setattr(detection, "task_send", lambda task, **kw: True)
    settings.PROVENANCE_DETECT_WAIT_SECONDS = 0.2
    upload = io.BytesIO(b"RIFF")
    upload.name = "clip.wav"
    response = Client().post(URL, {"file": upload}, REMOTE_ADDR=_ip())
    assert response.status_code == 503
    assert "No audio worker" in response.content.decode()


@pytest.mark.django_db
def test_the_csrf_check_still_applies():
    response = Client(enforce_csrf_checks=True).post(URL, {}, REMOTE_ADDR=_ip())
    assert response.status_code == 403
