"""The Speak page's Model picker (issue 14): it offers the engines the voice is built for, the
default model preselected, and the chosen one speaks the job (job_create(engine=)). The
dashboard lists each engine's licence and whether commercial use is allowed."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from synthesis.models import SynthesisJob
from tests.synthesis.models_choice.helpers import voice_for_both_toys
from tests.voices.helpers import make_ready_voice

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _select(page: str, name: str) -> str:
    return re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)


def _options(page: str, name: str) -> list[str]:
    return re.findall(r'<option value="([^"]*)"', _select(page, name))


def _studio_voice(page: str, name: str) -> dict:
    raw = re.search(r'<script id="studio-data" type="application/json">(.*?)</script>', page, re.S)
    return next(v for v in json.loads(raw.group(1))["voices"] if v["name"] == name)


def _post(client, voice, **fields):
    data = {"text": "Hello.", "voice": str(voice.code), "output_format": "wav", "speed": "1"}
    return client.post("/speak/", {**data, **fields})


def test_the_picker_offers_the_voices_engines_default_first(owner, settings):
    settings.TIMBRE_DEFAULT_MODEL = "toy-b-1"
    both = voice_for_both_toys(owner)
    page = _client(owner).get(f"/speak/?voice={both.code}").content.decode()
    assert _options(page, "model") == ["toyb", "toy"]
    assert re.search(r'<option value="toyb"[^>]*selected', _select(page, "model"))
    entry = _studio_voice(page, "Both")
    assert [e["model_id"] for e in entry["engines"]] == ["toy-b-1", "toy-1"]
    assert entry["engine"] == "toyb"  # the one used when none is picked
    toy = entry["engines"][1]
    assert [lang["code"] for lang in toy["languages"]] == ["en", "eo"]
    assert "commercial use allowed" in toy["label"] and toy["licence"] == "test only"
    # The languages shown first are those of the preselected model (English, French).
    assert _options(page, "language") == ["en", "fr"]
    # Each engine's own parameters, one group each; the page script shows the chosen one's.
    assert 'name="toyb__buzz_hz"' in page and 'name="toy__pitch_hz"' in page


def test_the_chosen_model_speaks_the_job(owner, settings):
    settings.TIMBRE_DEFAULT_MODEL = "toy"
    both = voice_for_both_toys(owner)
    client = _client(owner)
    response = _post(client, both, model="toyb", language="fr", toyb__buzz_hz="440")
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = SynthesisJob.objects.get()
    assert (job.engine, job.language, job.params["buzz_hz"]) == ("toyb", "fr", 440.0)
    assert "pitch_hz" not in job.params  # the other engine's group is not sent
    SynthesisJob.objects.all().delete()
    assert _post(client, both, language="en").status_code == 302  # none picked: the default
    assert SynthesisJob.objects.get().engine == "toy"


def test_a_language_or_model_the_choice_does_not_allow_is_refused(owner):
    both = voice_for_both_toys(owner)
    xtts_only = make_ready_voice(owner, "Xena", language="en")
    client = _client(owner)
    page = _post(client, both, model="toyb", language="eo").content.decode()
    assert "Both speaks only: English, French with Toy square." in page
    page = _post(client, xtts_only, model="toyb", language="en").content.decode()
    assert "Xena is not built for that model; it has: XTTS v2." in page
    answer = client.post(
        "/speak/",
        {"text": "Hi.", "voice": str(both.code), "model": "nope", "output_format": "mp3"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 400 and "model" in answer.json()["error"]["details"]
    assert not SynthesisJob.objects.exists()


def test_regenerate_keeps_the_model(owner):
    both = voice_for_both_toys(owner)
    client = _client(owner)
    _post(client, both, model="toyb", language="en")
    job = SynthesisJob.objects.get()
    page = client.get(f"/speak/?from={job.code}").content.decode()
    assert re.search(r'<option value="toyb"[^>]*selected', _select(page, "model"))


def test_the_dashboard_shows_each_engines_licence_and_commercial_use(owner, settings):
    settings.TIMBRE_DEFAULT_MODEL = "toy"
    page = _client(owner).get("/dashboard/").content.decode()
    xtts = re.search(r'<tr data-testid="model-xtts">.*?</tr>', page, re.S).group(0)
    assert "Coqui Public Model License" in xtts and "not allowed" in xtts
    piper = re.search(r'<tr data-testid="model-piper">.*?</tr>', page, re.S).group(0)
    assert "GPL-3.0" in piper and "allowed" in piper and "not allowed" not in piper
    toy = re.search(r'<tr data-testid="model-toy">.*?</tr>', page, re.S).group(0)
    assert "default" in toy and "not loaded" in toy
