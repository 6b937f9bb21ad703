"""Consent and cloning through the real worker: speaker verification, build, synthesis."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthesis.jobs import services as synthesis_services
from synthesis.models import SynthesisJob
from tests.factories import UserFactory
from tests.voices.corpus import cached_corpus
from tests.voices.helpers import wait_for, wait_samples_done
from voices import services
from voices.models import Consent, Voice

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return cached_corpus(tmp_path_factory.getbasetemp() / "voices-corpus")


def _upload(client, url: str, path: Path) -> dict:
    response = client.post(url, {"file": path.open("rb")}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()


def voice_with_consent(client, corpus, *, sample: str, consent_take: str, name: str) -> Voice:
    """Upload a sample and a consent recording through the API, then create the voice."""
    sample_id = _upload(client, "/api/v1/samples", corpus[sample])["id"]
    consent = client.post("/api/v1/consents", {"attest": True}, format="json").json()
    recorded = _upload(client, f"/api/v1/consents/{consent['id']}/recording", corpus[consent_take])
    done = wait_samples_done([sample_id, recorded["recording"]["id"]])
    assert {s.status for s in done.values()} == {"ready"}, [s.error_message for s in done.values()]
    response = client.post(
        "/api/v1/voices",
        {"name": name, "samples": [sample_id], "consent": consent["id"], "language": "en"},
        format="json",
    )
    assert response.status_code == 202, response.content
    return Voice.objects.get(code=response.json()["id"])


def wait_voice(voice: Voice) -> Voice:
    def settled():
        voice.refresh_from_db()
        return voice.status != Voice.Status.BUILDING

    wait_for(settled, what=f"voice {voice.name} to settle")
    return voice


def test_matching_consent_builds_a_voice_that_synthesizes(
    celery_worker, owner_client, owner, corpus
):
    # Samples: en+m3 reading two sentences; consent: en+m3 reading another text.
    voice = wait_voice(
        voice_with_consent(owner_client, corpus, sample="wav", consent_take="spk_m3_b", name="M3")
    )
    assert voice.status == Voice.Status.READY, (voice.failure_reason, celery_worker.log()[-3000:])
    consent = Consent.objects.get(voice=voice)
    assert consent.status == Consent.Status.VERIFIED
    assert consent.speaker_score >= consent.speaker_threshold == 0.75
    assert owner_client.get(f"/api/v1/voices/{voice.code}").json()["status"] == "ready"

    job = synthesis_services.job_create(
        owner=owner,
        voice=voice,
        text="Hello from a cloned voice.",
        output_format="wav",
        params={"max_new_tokens": 8, "seed": 1},
    )

    def finished():
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, what="synthesis job")
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert job.audio_seconds > 0


def test_mismatching_consent_is_flagged_and_an_override_builds(celery_worker, owner_client, corpus):
    # Samples: en+m3; consent read by en+f3, another "person".
    voice = wait_voice(
        voice_with_consent(
            owner_client, corpus, sample="mp3_cover_art", consent_take="spk_f3_b", name="Not me"
        )
    )
    assert voice.status == Voice.Status.FAILED, celery_worker.log()[-3000:]
    assert voice.flagged
    assert "the consent recording's speaker does not match the samples" in (
        voice.failure_reason.lower()
    )
    consent = Consent.objects.get(voice=voice)
    assert consent.status == Consent.Status.MISMATCH
    assert consent.speaker_score < 0.75

    admin = UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    services.consent_override_approve(voice=voice, admin_user=admin)
    voice = wait_voice(voice)
    assert voice.status == Voice.Status.READY, voice.failure_reason
    consent.refresh_from_db()
    assert (consent.status, consent.overridden_by) == (Consent.Status.OVERRIDDEN, admin)
