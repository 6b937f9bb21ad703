"""The dashboard pages beside the API: history (with deletion) and webhook settings."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from synthesis.models import SynthesisJob
from synthesis.webhooks import services as webhooks
from tests.synthesis.api_helpers import job_finish, job_request, make_ready_voice

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_client(owner):
    client = Client()
    client.force_login(owner)
    return client


def test_history_lists_your_jobs_with_usage(owner, stranger, browser_client):
    voice = make_ready_voice(owner, "Narrator")
    done = job_finish(job_request(owner, voice, "A finished line."))
    job_request(owner, voice, "A queued line.")
    job_request(stranger, make_ready_voice(stranger, "Theirs"), "Not yours.")
    page = browser_client.get("/history/").content.decode()
    assert "A finished line." in page and "A queued line." in page and "Not yours." not in page
    assert f"/api/v1/synthesis/{done.code}/audio" in page
    assert "<strong>16</strong> of 100,000 characters used" in page
    filtered = browser_client.get("/history/?status=succeeded").content.decode()
    assert "A finished line." in filtered and "A queued line." not in filtered
    assert 'href="/history/"' in browser_client.get("/dashboard/").content.decode()


def test_delete_from_history(owner, browser_client, stranger):
    voice = make_ready_voice(owner, "Narrator")
    done = job_finish(job_request(owner, voice))
    queued = job_request(owner, voice)
    other = Client()
    other.force_login(stranger)
    assert other.post(f"/history/{done.code}/delete/").status_code == 404
    assert browser_client.post(f"/history/{queued.code}/delete/").status_code == 302
    assert SynthesisJob.objects.filter(pk=queued.pk).exists()  # still running: refused
    assert browser_client.post(f"/history/{done.code}/delete/").status_code == 302
    assert not SynthesisJob.objects.filter(pk=done.pk).exists()


def test_pages_need_a_login(client):
    for path in ("/history/", "/webhooks/"):
        assert client.get(path).status_code == 302


def test_webhook_page_shows_and_rotates_the_secret(owner, browser_client):
    page = browser_client.get("/webhooks/").content.decode()
    secret = webhooks.secret_get(owner=owner).secret
    assert secret in page and "Timbre-Signature" in page
    assert browser_client.post("/webhooks/rotate/").status_code == 302
    assert webhooks.secret_get(owner=owner).secret != secret
    assert AuditEvent.objects.filter(action="synthesis.webhook_secret.rotated").exists()
    assert browser_client.get("/webhooks/rotate/").status_code == 405
