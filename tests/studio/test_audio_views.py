"""Every audio view serves Range (206), answers 416 outside the file, and downloads on ?download=1.

The four endpoints: the job page's audio, the API's job audio, and a sample's audio on the page
and in the API.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.synthesis.api_helpers import AUDIO, job_finish, job_request, make_ready_voice
from tests.voices.helpers import make_sample

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def job_urls(owner):
    job = job_finish(job_request(owner, make_ready_voice(owner, "Narrator")))
    code = {"code": job.code}
    return [
        reverse("synthesis_job_audio", kwargs=code),
        reverse("api-synthesis-audio", kwargs=code),
    ]


@pytest.fixture
def sample_urls(owner):
    sample = make_sample(owner)
    code = {"code": sample.code}
    return [reverse("voices:sample_audio", kwargs=code), reverse("api-sample-audio", kwargs=code)]


def _check_ranges(client, url, whole: bytes, extension: str):
    full = client.get(url)
    assert full.status_code == 200, full.content[:300]
    assert full["Accept-Ranges"] == "bytes"
    assert full["Content-Disposition"].startswith("inline;")
    assert b"".join(full.streaming_content) == whole

    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert b"".join(part.streaming_content) == whole[100:200]

    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206
    assert b"".join(tail.streaming_content) == whole[-10:]

    many = client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert many.status_code == 200  # multi-range: the whole file

    outside = client.get(url, headers={"Range": f"bytes={len(whole)}-"})
    assert outside.status_code == 416
    assert outside["Content-Range"] == f"bytes */{len(whole)}"
    assert outside.json()["error"]["code"] == "range_not_satisfiable"

    download = client.get(url + "?download=1")
    assert download["Content-Disposition"].startswith("attachment;")
    assert f".{extension}" in download["Content-Disposition"]


def test_job_audio_views_serve_ranges(owner, job_urls):
    client = _client(owner)
    for url in job_urls:
        _check_ranges(client, url, AUDIO, "mp3")


def test_sample_audio_views_serve_ranges(owner, sample_urls):
    client = _client(owner)
    whole = b"".join(client.get(sample_urls[0]).streaming_content)
    assert whole[:4] == b"RIFF"
    for url in sample_urls:
        _check_ranges(client, url, whole, "wav")


def test_a_stranger_gets_404_for_every_audio_view(stranger, job_urls, sample_urls):
    client = _client(stranger)
    for url in job_urls + sample_urls:
        assert client.get(url, headers={"Range": "bytes=0-1"}).status_code == 404, url
