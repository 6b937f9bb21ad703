"""The Speak page (server side): what it offers for a voice, prefill, quota, job JSON, cancel."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from synthesis.models import SynthesisJob
from tests.synthesis.api_helpers import job_fail, job_finish, job_request, plan, user_on
from tests.voices.helpers import make_ready_voice, make_stock_voice

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _options(page: str, name: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)


def _studio_data(page: str) -> dict:
    raw = re.search(r'<script id="studio-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(raw.group(1))


def test_an_english_stock_voice_offers_only_english(owner):
    stock = make_stock_voice("Joe", stock_id="piper:en_US-joe")
    stock.language = "en"
    stock.save()
    page = _client(owner).get("/speak/").content.decode()
    assert _options(page, "language") == [("en", "English")]
    data = _studio_data(page)
    joe = next(v for v in data["voices"] if v["name"] == "Joe")
    assert joe["languages"] == [{"code": "en", "name": "English"}]
    assert joe["engine_label"] == "Piper"


def test_a_cloned_voice_offers_its_engines_languages_by_name(owner):
    voice = make_ready_voice(owner, "Mine", language="de")
    page = _client(owner).get("/speak/").content.decode()
    options = _options(page, "language")
    assert options[0] == ("de", "German")  # the voice's own language first
    assert ("zh-cn", "Chinese (Mandarin)") in options
    assert all(code != name for code, name in options)  # names, not codes
    mine = next(v for v in _studio_data(page)["voices"] if v["code"] == str(voice.code))
    assert mine["engine"] == "xtts" and len(mine["languages"]) == len(options)
    # the advanced panel holds the engine's declared parameters (speed is outside it)
    assert 'name="xtts__temperature"' in page and 'name="xtts__top_k"' in page
    assert 'name="xtts__speed"' not in page and 'name="speed"' in page


def test_a_language_the_voice_does_not_speak_is_refused(owner):
    stock = make_stock_voice("Joe", stock_id="piper:en_US-joe")
    stock.language = "en"
    stock.save()
    make_ready_voice(owner, "Mine", language="en")  # makes "de" a valid choice on the page
    response = _client(owner).post(
        "/speak/",
        {
            "text": "Hallo.",
            "voice": str(stock.code),
            "language": "de",
            "output_format": "mp3",
            "speed": "1",
        },
    )
    assert response.status_code == 200
    assert "Joe speaks only: English." in response.content.decode()
    assert not SynthesisJob.objects.exists()


def test_post_creates_the_job_with_advanced_parameters_and_redirects(owner):
    voice = make_ready_voice(owner, "Mine", language="en")
    response = _client(owner).post(
        "/speak/",
        {
            "text": "Hello there.",
            "voice": str(voice.code),
            "language": "fr",
            "output_format": "wav",
            "speed": "1.5",
            "xtts__top_k": "5",
            "xtts__temperature": "",
        },
    )
    job = SynthesisJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.code}/"
    assert (job.language, job.output_format) == ("fr", "wav")
    assert job.params["speed"] == 1.5 and job.params["top_k"] == 5
    assert job.params["temperature"] == 0.75  # left empty: the engine's default


def test_post_answers_json_for_the_page_script(owner):
    voice = make_ready_voice(owner, "Mine", language="en")
    client = _client(owner)
    answer = client.post(
        "/speak/",
        {"text": "Hello.", "voice": str(voice.code), "output_format": "mp3", "speed": "1"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 201
    assert answer.json()["status"] == "queued" and answer.json()["url"].startswith("/jobs/")
    bad = client.post("/speak/", {"text": ""}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"


def test_prefill_from_your_own_job(owner, stranger):
    voice = make_ready_voice(owner, "Mine", language="en")
    job = job_request(
        owner, voice, "Say it again.", language="it", output_format="wav", params={"speed": 1.25}
    )
    page = _client(owner).get(f"/speak/?from={job.code}").content.decode()
    assert ">\nSay it again.</textarea>" in page
    assert re.search(rf'<option value="{voice.code}"[^>]*selected', page)
    assert re.search(r'<option value="it"[^>]*selected>Italian', page)
    assert re.search(r'<option value="wav"[^>]*selected', page)
    assert 'name="speed" value="1.25"' in page
    assert _client(stranger).get(f"/speak/?from={job.code}").status_code == 404
    assert _client(owner).get("/speak/?from=not-a-uuid").status_code == 404


def test_over_quota_is_said_before_and_after_posting(db):
    user = user_on(plan(monthly_characters=5))
    voice = make_ready_voice(user, "Mine", language="en")
    client = _client(user)
    page = client.get("/speak/").content.decode()
    assert "5 of 5 characters left this month" in page
    assert _studio_data(page)["remaining"] == 5
    cost = client.post("/speak/cost", {"text": "Hello  there\u2026"}).json()
    assert cost == {"characters": 14, "limit": 5, "remaining": 5, "over_quota": True}
    response = client.post(
        "/speak/",
        {"text": "Far too long.", "voice": str(voice.code), "output_format": "mp3", "speed": "1"},
    )
    assert response.status_code == 200
    assert "characters" in response.content.decode() and not SynthesisJob.objects.exists()
    assert 'data-testid="speak-errors"' in response.content.decode()
    # The studio's own request (JSON) gets the quota's code and status, as the native API would
    # (402: a plan limit; config.service_errors).
    answer = client.post(
        "/speak/",
        {"text": "Far too long.", "voice": str(voice.code), "output_format": "mp3", "speed": "1"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "quota_exceeded"
    assert not SynthesisJob.objects.exists()


def test_job_json_has_live_fields_and_cancel_works(owner, stranger):
    voice = make_ready_voice(owner, "Mine", language="en")
    client = _client(owner)
    job = job_request(owner, voice, "Hello.")
    data = client.get(f"/jobs/{job.code}/", headers={"Accept": "application/json"}).json()
    assert data["status_display"] == "Queued" and data["terminal"] is False
    assert data["audio_url"] is None and data["cancel_url"] == f"/jobs/{job.code}/cancel"
    page = client.get(f"/jobs/{job.code}/").content.decode()
    assert 'data-testid="job-cancel"' in page and "data-poll" in page
    assert _client(stranger).post(f"/jobs/{job.code}/cancel").status_code == 404
    answer = client.post(f"/jobs/{job.code}/cancel", headers={"Accept": "application/json"})
    assert answer.json()["status"] == "cancelled"
    again = client.post(f"/jobs/{job.code}/cancel", headers={"Accept": "application/json"})
    assert again.status_code == 409


def test_job_page_when_done_or_failed(owner):
    voice = make_ready_voice(owner, "Mine", language="en")
    client = _client(owner)
    done = job_finish(job_request(owner, voice))
    page = client.get(f"/jobs/{done.code}/").content.decode()
    assert f'href="/jobs/{done.code}/audio?download=1"' in page
    assert f'data-waveform-src="/jobs/{done.code}/audio"' in page and "data-poll" not in page
    data = client.get(f"/jobs/{done.code}/", headers={"Accept": "application/json"}).json()
    assert data["download_url"] == f"/jobs/{done.code}/audio?download=1"
    failed = job_fail(job_request(owner, voice), error="The engine broke.")
    assert "The engine broke." in client.get(f"/jobs/{failed.code}/").content.decode()


def test_voice_link_preselects_that_voice(owner, stranger):
    make_ready_voice(owner, "First", language="en")
    second = make_ready_voice(owner, "Second", language="fr")
    page = _client(owner).get(f"/speak/?voice={second.code}").content.decode()
    assert re.search(rf'<option value="{second.code}"[^>]*selected', page)
    assert _options(page, "language")[0] == ("fr", "French")
    theirs = make_ready_voice(stranger, "Theirs", language="en")
    page = _client(owner).get(f"/speak/?voice={theirs.code}").content.decode()
    assert str(theirs.code) not in page  # not offered, not an error
    first = re.search(r'<select name="voice".*?</select>', page, re.S).group(0)
    assert re.search(r"<option [^>]*selected>First", first)  # the first voice instead
