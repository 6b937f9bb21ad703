"""Reports: consent recordings get consent feedback, and noise reads the same everywhere."""

from __future__ import annotations

import pytest

from tests.voices.helpers import make_consent, make_ready_voice, make_sample
from voices.models import Consent, Sample

pytestmark = pytest.mark.django_db

REPORT = {
    "ok": False,
    "speech_seconds": 2.4,
    "duration_seconds": 3.0,
    "clean_seconds": 2.6,
    "loudness_lufs": -24.0,
    "snr_db": 12.0,
    "clipping_ratio": 0.0,
    "advice": [
        "background noise (speech only 12 dB above it) — record in a quieter room",
        "record at least 10 s of speech (we found 2.4 s); 30 s or more gives a closer voice",
    ],
}


def consent_recording(owner, *, report=REPORT, status=Consent.Status.RECORDED):
    consent = make_consent(owner)
    Sample.objects.filter(pk=consent.recording_id).update(report=report)
    Consent.objects.filter(pk=consent.pk).update(status=status)
    consent.refresh_from_db()
    return consent


def test_consent_recording_gets_consent_feedback_not_sample_advice(client, owner):
    consent = consent_recording(owner)
    client.force_login(owner)
    page = client.get(f"/voices/samples/{consent.recording.code}/report").content.decode()
    assert 'data-testid="consent-feedback"' in page
    assert "read the whole statement, including your consent phrase" in page
    assert "same speaker as your samples" in page
    assert "record at least 10 s" not in page and "30 s or more" not in page


def test_a_voice_sample_keeps_its_sample_advice(client, owner):
    sample = make_sample(owner)
    Sample.objects.filter(pk=sample.pk).update(report=REPORT)
    client.force_login(owner)
    page = client.get(f"/voices/samples/{sample.code}/report").content.decode()
    assert "Record at least 10 s of speech" in page and "consent-feedback" not in page


def test_verified_consent_on_the_voice_page(client, owner):
    voice = make_ready_voice(owner, "Reader")
    consent = consent_recording(owner, status=Consent.Status.VERIFIED)
    Consent.objects.filter(pk=consent.pk).update(voice=voice, speaker_score=0.91)
    client.force_login(owner)
    page = client.get(f"/voices/{voice.code}/").content.decode()
    assert 'data-testid="consent-recording"' in page
    assert "Same speaker as your samples: consent confirmed." in page
    assert "record at least 10 s" not in page.lower()


def test_a_rejected_consent_recording_is_told_to_read_the_statement(client, owner):
    consent = make_consent(owner, recording_status=Sample.Status.REJECTED)
    Sample.objects.filter(pk=consent.recording_id).update(
        error_code="too_little_speech",
        error_message="We found only 1.0 s of speech; record at least 10 s of clear speech.",
    )
    client.force_login(owner)
    page = client.get(f"/voices/samples/{consent.recording.code}/report").content.decode()
    assert "Read the whole statement aloud, including your consent phrase" in page
    assert "at least 10 s" not in page


@pytest.mark.parametrize(
    "snr, wording",
    [
        (99.4, "Low: speech is more than 60 dB above the background"),
        (78.0, "Low: speech is more than 60 dB above the background"),
        (31.0, "Some: speech is 31 dB above the background"),
        (12.0, "High: speech is 12 dB above the background"),
    ],
)
def test_noise_has_one_wording_on_the_sample_and_voice_pages(client, owner, snr, wording):
    voice = make_ready_voice(owner, "Reader")
    sample = voice.samples.get()
    Sample.objects.filter(pk=sample.pk).update(report=REPORT | {"snr_db": snr})
    client.force_login(owner)
    for url in (
        f"/voices/samples/{sample.code}/",
        f"/voices/{voice.code}/",
        f"/voices/samples/{sample.code}/report",
    ):
        page = client.get(url).content.decode()
        assert "<dt>Background noise</dt>" in page, url
        assert f'<dd data-testid="noise">{wording}</dd>' in page, url


def test_report_fragment_is_404_for_a_stranger(client, owner, stranger):
    sample = make_sample(owner)
    client.force_login(stranger)
    assert client.get(f"/voices/samples/{sample.code}/report").status_code == 404
