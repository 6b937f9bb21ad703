"""The dashboard's job page links to captions; they download for the owner only."""

from __future__ import annotations

import io

import pytest
import webvtt
from django.core.files.base import ContentFile

from synthesis.models import SynthesisJob
from tests.voices.helpers import make_ready_voice

pytestmark = pytest.mark.django_db

TEXT = "A first sentence. A second one.\n\nAnother paragraph."


@pytest.fixture
def finished_job(owner):
    voice = make_ready_voice(owner, "Toy", engine="toy", language="en")
    job = SynthesisJob.objects.create(
        owner=owner,
        voice=voice,
        text=TEXT,
        characters=len(TEXT),
        output_format="wav",
        status=SynthesisJob.Status.SUCCEEDED,
        audio_seconds=4.0,
    )
    job.audio.save("audio.wav", ContentFile(b"RIFF"), save=True)
    return job


def test_job_page_links_captions_in_both_formats(owner_client, finished_job):
    page = owner_client.get(f"/jobs/{finished_job.code}/").content.decode()
    assert f'href="/jobs/{finished_job.code}/captions.vtt"' in page
    assert f'href="/jobs/{finished_job.code}/captions.srt"' in page
    assert "Captions (WebVTT)" in page and "Captions (SRT)" in page


def test_captions_download_as_estimated_cues(owner_client, finished_job):
    response = owner_client.get(f"/jobs/{finished_job.code}/captions.vtt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/vtt")
    assert "attachment" in response["Content-Disposition"]
    cues = list(webvtt.from_buffer(io.StringIO(response.content.decode())))
    assert [c.text for c in cues] == ["A first sentence. A second one.", "Another paragraph."]
    assert cues[-1].end == "00:00:04.000"  # the estimate shares the audio's whole length
    srt = owner_client.get(f"/jobs/{finished_job.code}/captions.srt").content.decode()
    assert srt.startswith("1\n00:00:00,000 --> ")
    assert owner_client.get(f"/jobs/{finished_job.code}/captions.ass").status_code == 404


def test_someone_elses_captions_are_not_found(client, stranger, finished_job):
    client.force_login(stranger)
    assert client.get(f"/jobs/{finished_job.code}/captions.vtt").status_code == 404
