"""Consent without a worker: attestation, phrase, recording, verdicts, the admin override."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from tests.factories import UserFactory
from tests.support.tasks import task_spy
from tests.voices.helpers import make_consent, make_sample, upload, wav_bytes
from voices import services
from voices.consent_text import ATTESTATION_TEXT, WORDS
from voices.models import Consent, Sample, Voice

pytestmark = pytest.mark.django_db


def test_consent_needs_the_attestation(owner_client):
    response = owner_client.post("/api/v1/consents", {"attest": False}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "attestation_required"
    assert owner_client.post("/api/v1/consents", {}, format="json").status_code == 400
    assert not Consent.objects.exists()


def test_issue_stores_attestation_verbatim_with_time_ip_and_a_fresh_phrase(owner_client, owner):
    response = owner_client.post(
        "/api/v1/consents", {"attest": True}, format="json", REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 201
    body = response.json()
    words = body["phrase"].split()
    assert len(words) == 4 and len(set(words)) == 4 and set(words) <= set(WORDS)
    assert body["phrase"] in body["statement"]
    assert body["attestation_text"] == ATTESTATION_TEXT
    assert body["status"] == "issued" and body["expired"] is False
    consent = Consent.objects.get(code=body["id"])
    assert consent.attested_ip == "203.0.113.9"
    assert consent.attestation_text == ATTESTATION_TEXT
    lifetime = consent.expires_at - consent.attested_at
    assert lifetime == timedelta(minutes=15)
    event = AuditEvent.objects.get(action="voices.consent.attested")
    assert event.data["attestation_text"] == ATTESTATION_TEXT and event.ip == "203.0.113.9"
    other = owner_client.post("/api/v1/consents", {"attest": True}, format="json").json()
    assert other["phrase"] != body["phrase"]


def test_recording_goes_through_intake_and_can_be_redone(owner_client, owner):
    consent = make_consent(owner, recorded=False)
    url = f"/api/v1/consents/{consent.code}/recording"
    first = upload(owner_client, url, wav_bytes(), name="consent.webm")
    assert first.status_code == 202, first.content
    body = first.json()
    assert body["status"] == "recorded"
    assert body["recording"]["purpose"] == "consent"
    first_sample = Sample.objects.get(code=body["recording"]["id"])
    second = upload(owner_client, url, wav_bytes(), name="again.webm").json()
    assert second["recording"]["id"] != str(first_sample.code)
    assert not Sample.objects.filter(pk=first_sample.pk).exists()
    assert AuditEvent.objects.filter(action="voices.consent.recorded").count() == 2
    # A consent recording is not a voice sample: it is not listed with them.
    assert owner_client.get("/api/v1/samples").json()["count"] == 0


def test_recording_after_the_phrase_expired_is_refused(owner_client, owner):
    consent = make_consent(owner, recorded=False)
    Consent.objects.filter(pk=consent.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = upload(owner_client, f"/api/v1/consents/{consent.code}/recording", wav_bytes())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "consent_expired"
    assert not Sample.objects.exists()


@pytest.fixture
def building_voice(owner):
    voice = Voice.objects.create(owner=owner, name="Pending", status=Voice.Status.BUILDING)
    make_sample(owner, voice=voice)
    consent = make_consent(owner)
    Consent.objects.filter(pk=consent.pk).update(voice=voice)
    return voice, Consent.objects.get(pk=consent.pk)


def test_matching_speaker_verifies_and_queues_the_build(
    building_voice, owner_client, django_capture_on_commit_callbacks
):
    voice, consent = building_voice
    with (
        task_spy("voices.tasks.voice_conditioning_compute") as build,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.consent_verification_record(
            consent_id=consent.pk, matched=True, score=0.91, threshold=0.75
        )
    build.assert_called_once()
    assert build.call_args.kwargs["voice_id"] == voice.pk
    body = owner_client.get(f"/api/v1/consents/{consent.code}").json()
    assert (body["status"], body["speaker_score"], body["speaker_threshold"]) == (
        "verified",
        0.91,
        0.75,
    )
    assert AuditEvent.objects.filter(action="voices.consent.verified").exists()


def test_mismatch_fails_and_flags_then_an_admin_overrides(
    building_voice, owner_client, client, django_capture_on_commit_callbacks
):
    voice, consent = building_voice
    services.consent_verification_record(
        consent_id=consent.pk, matched=False, score=0.41, threshold=0.75
    )
    voice.refresh_from_db()
    assert voice.status == Voice.Status.FAILED and voice.flagged
    assert "the consent recording's speaker does not match the samples" in (
        voice.failure_reason.lower()
    )
    body = owner_client.get(f"/api/v1/voices/{voice.code}").json()
    assert (body["status"], body["under_review"]) == ("failed", True)
    assert body["consent"]["status"] == "mismatch"
    assert AuditEvent.objects.filter(action="voices.consent.mismatch").exists()

    admin = UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin)
    flagged = client.get("/admin/voices/voice/?flagged__exact=1")
    assert flagged.status_code == 200 and "Pending" in flagged.content.decode()
    with (
        task_spy("voices.tasks.voice_conditioning_compute") as build,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            "/admin/voices/voice/",
            {"action": "approve_override", "_selected_action": [voice.pk]},
        )
    assert response.status_code == 302
    build.assert_called_once()
    voice.refresh_from_db()
    consent.refresh_from_db()
    assert (voice.status, voice.flagged) == (Voice.Status.BUILDING, False)
    assert consent.status == Consent.Status.OVERRIDDEN
    assert consent.overridden_by == admin and consent.overridden_at
    event = AuditEvent.objects.get(action="voices.consent.overridden")
    assert (event.actor_type, event.actor_user) == (AuditEvent.ActorType.ADMIN, admin)


def test_override_of_a_voice_that_is_not_flagged_changes_nothing(building_voice, client):
    voice, _ = building_voice
    client.force_login(UserFactory(email="admin@example.com", is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/voices/voice/",
        {"action": "approve_override", "_selected_action": [voice.pk]},
        follow=True,
    )
    assert "is not flagged" in response.content.decode()
    assert not AuditEvent.objects.filter(action="voices.consent.overridden").exists()


def test_a_late_duplicate_verdict_is_ignored(building_voice):
    _, consent = building_voice
    services.consent_verification_record(
        consent_id=consent.pk, matched=False, score=0.4, threshold=0.75
    )
    assert (
        services.consent_verification_record(
            consent_id=consent.pk, matched=True, score=0.9, threshold=0.75
        )
        is None
    )
    consent.refresh_from_db()
    assert consent.status == Consent.Status.MISMATCH
