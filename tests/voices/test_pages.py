"""The voices pages: owner sees, stranger gets 404, anonymous is sent to log in."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from accounts.models import Plan
from audit.models import AuditEvent
from tests.voices.helpers import make_consent, make_ready_voice, make_sample, wav_bytes
from voices.models import Consent, Sample, Voice

pytestmark = pytest.mark.django_db


@pytest.fixture
def things(owner):
    voice = make_ready_voice(owner, "Reader")
    consent = make_consent(owner)
    Consent.objects.filter(pk=consent.pk).update(
        voice=voice, speaker_score=0.93, status=Consent.Status.VERIFIED
    )
    return {"voice": voice, "sample": voice.samples.get()}


def pages(things):
    voice, sample = things["voice"].code, things["sample"].code
    return {
        "list": "/voices/",
        "new": "/voices/new/",
        "samples": "/voices/samples/",
        "record": "/voices/samples/record/",
        "voice": f"/voices/{voice}/",
        "sample": f"/voices/samples/{sample}/",
        "audio": f"/voices/samples/{sample}/audio",
    }


def test_owner_sees_every_page(client, owner, things):
    client.force_login(owner)
    for name, url in pages(things).items():
        response = client.get(url)
        assert response.status_code == 200, (name, url)
    detail = client.get(pages(things)["voice"]).content.decode()
    assert "Reader" in detail and "speaker similarity 0.93" in detail
    assert 'src="/voices/samples/' in detail  # a player per sample, served through the view


def test_stranger_gets_404_and_anonymous_logs_in(client, stranger, things):
    for name in ("voice", "sample", "audio"):
        url = pages(things)[name]
        assert client.get(url).status_code == 302, name  # anonymous: to the login page
    client.force_login(stranger)
    for name in ("voice", "sample", "audio"):
        assert client.get(pages(things)[name]).status_code == 404, name
    voice = things["voice"]
    assert client.post(f"/voices/{voice.code}/rename/", {"name": "Mine now"}).status_code == 404
    assert client.post(f"/voices/{voice.code}/delete/").status_code == 404
    assert client.post(f"/voices/samples/{things['sample'].code}/delete/").status_code == 404
    assert Voice.objects.get(pk=voice.pk).name == "Reader"


def test_upload_form(client, owner):
    client.force_login(owner)
    response = client.post(
        "/voices/samples/upload/", {"file": ContentFile(wav_bytes(), name="form.wav")}
    )
    sample = Sample.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/voices/samples/{sample.code}/"
    assert sample.original_name == "form.wav"
    page = client.get(response["Location"]).content.decode()
    assert "data-poll-sample" in page  # it updates itself while intake runs


def test_upload_form_over_the_limit_is_413_before_reading(client, owner):
    owner.plan = Plan.objects.create(slug="tiny", name="Tiny", max_upload_mb=1)
    owner.save(update_fields=["plan"])
    client.force_login(owner)
    response = client.post(
        "/voices/samples/upload/",
        {"file": ContentFile(b"\0" * 10, name="big.wav")},
        CONTENT_LENGTH=str(5_000_000),
    )
    assert response.status_code == 413
    assert "larger than your plan" in response.content.decode()
    assert not Sample.objects.exists()


def test_upload_form_keeps_csrf_protection(owner):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(owner)
    response = csrf_client.post(
        "/voices/samples/upload/", {"file": ContentFile(wav_bytes(), name="x.wav")}
    )
    assert response.status_code == 403
    assert not Sample.objects.exists()


def test_rename_and_delete_forms(client, owner, things):
    client.force_login(owner)
    voice = things["voice"]
    client.post(f"/voices/{voice.code}/rename/", {"name": "Narrator", "description": "Calm"})
    voice.refresh_from_db()
    assert (voice.name, voice.description) == ("Narrator", "Calm")
    response = client.post(f"/voices/{voice.code}/delete/")
    assert response.status_code == 302 and response["Location"] == "/voices/"
    assert not Voice.objects.filter(pk=voice.pk).exists()
    assert AuditEvent.objects.filter(action="voices.voice.deleted").exists()


def test_rejected_sample_page_shows_why(client, owner):
    sample = make_sample(owner, status=Sample.Status.REJECTED)
    client.force_login(owner)
    page = client.get(f"/voices/samples/{sample.code}/").content.decode()
    assert "Not accepted" in page and "The file is empty." in page


def test_dashboard_lists_voices_or_keeps_the_empty_state(client, owner):
    client.force_login(owner)
    page = client.get("/dashboard/").content.decode()
    assert 'data-testid="dashboard-empty"' in page and "You have no voices yet" in page
    make_ready_voice(owner, "Shown on the dashboard")
    page = client.get("/dashboard/").content.decode()
    assert "Shown on the dashboard" in page and "dashboard-empty" not in page
    assert 'href="/voices/"' in page  # the nav link


def test_pending_voice_page_offers_the_consent_step(client, owner):
    from voices import services

    sample = make_sample(owner)
    voice = services.voice_create_pending_consent(
        owner=owner, name="API voice", sample_codes=[sample.code]
    )
    client.force_login(owner)
    page = client.get(f"/voices/{voice.code}/").content.decode()
    assert 'data-testid="consent-step"' in page and "data-voice-consent" in page
