"""Commercial mode (TIMBRE_COMMERCIAL_ONLY, issue 14): every engine whose weights forbid
commercial use (XTTS v2) is left out as if it were not installed. Nothing can reach it: no
model list names it, a request naming it is a 400 unsupported_model, an existing XTTS-only
voice is refused with a clear error (never a 500), the pages do not offer it, and a real
worker started in this mode neither loads nor publishes it."""

from __future__ import annotations

import pytest
from django.test import Client

from synthesis.engines import engine_names, engines
from synthesis.models import EngineStatusRecord, SynthesisJob
from tests.support.waiting import wait_for
from tests.synthesis.api_helpers import job_finish, job_request
from tests.synthesis.compat.support import api_key, bearer_client, xi_client
from tests.synthesis.models_choice.helpers import voice_for_both_toys
from tests.voices.helpers import make_ready_voice
from tests.workers import WorkerProcess

SPEECH = "/v1/audio/speech"


@pytest.fixture
def commercial(settings):
    settings.TIMBRE_COMMERCIAL_ONLY = True
    settings.TIMBRE_DEFAULT_MODEL = "toy"


def _openai_ids(owner) -> set[str]:
    return {m["id"] for m in bearer_client(api_key(owner, "tts")).get("/v1/models").json()["data"]}


@pytest.mark.django_db
def test_engines_leave_out_what_forbids_commercial_use(settings):
    assert "xtts" in engine_names()
    settings.TIMBRE_COMMERCIAL_ONLY = True
    assert "xtts" not in engine_names()
    assert all(facts.commercial_use for facts in engines().values())
    assert {"piper", "toy", "toyb"} <= set(engine_names())


@pytest.mark.django_db
def test_no_model_list_names_xtts(owner, commercial):
    assert "xtts-v2" not in _openai_ids(owner) and "toy-1" in _openai_ids(owner)
    eleven = {m["model_id"] for m in xi_client(api_key(owner, "tts")).get("/v1/models").json()}
    assert "xtts-v2" not in eleven and "toy-b-1" in eleven
    client = bearer_client(api_key(owner, "all"))
    native = {m["model_id"] for m in client.get("/api/v1/models").json()}
    assert "xtts-v2" not in native and "tts-1" in native
    assert all(m["commercial_use"] for m in client.get("/api/v1/models").json())
    assert "xtts" not in {e["name"] for e in client.get("/api/v1/engines").json()}
    assert client.get("/v1/models/xtts-v2").status_code == 404


@pytest.mark.django_db
def test_naming_xtts_is_an_unsupported_model(owner, commercial):
    both = voice_for_both_toys(owner)
    body = {"model": "xtts-v2", "input": "Hi.", "voice": "Both"}
    refused = bearer_client(api_key(owner, "tts")).post(SPEECH, body, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "unsupported_model" and "xtts-v2" not in error["details"]["accepted"]
    eleven = xi_client(api_key(owner, "tts")).post(
        f"/v1/text-to-speech/{both.code}", {"text": "Hi.", "model_id": "xtts-v2"}, format="json"
    )
    assert (eleven.status_code, eleven.json()["detail"]["status"]) == (400, "unsupported_model")
    native = bearer_client(api_key(owner, "tts")).post(
        "/api/v1/synthesis",
        {"voice": str(both.code), "text": "Hi.", "model": "xtts"},
        format="json",
    )
    assert (native.status_code, native.json()["error"]["code"]) == (400, "unsupported_model")
    assert not SynthesisJob.objects.exists()


@pytest.mark.django_db
def test_an_existing_xtts_only_voice_is_refused_clearly_everywhere(owner, settings):
    xena = make_ready_voice(owner, "Xena", language="en")
    old_job = job_finish(job_request(owner, xena, "Spoken before the switch."))
    settings.TIMBRE_COMMERCIAL_ONLY = True
    client = bearer_client(api_key(owner, "all"))
    for path, body in [
        (SPEECH, {"model": "tts-1", "input": "Hi.", "voice": "Xena"}),
        ("/api/v1/synthesis", {"voice": str(xena.code), "text": "Hi."}),
        ("/api/v1/synthesis/stream", {"voice": str(xena.code), "text": "Hi."}),
        (f"/v1/text-to-speech/{xena.code}", {"text": "Hi."}),
    ]:
        refused = client.post(path, body, format="json")
        assert refused.status_code == 400, (path, refused.content)
        error = refused.json()["error"]
        assert error["code"] == "model_not_available", path
        assert "Xena" in error["message"], path
    # Reading what was made with it still works: history, job detail, voice detail, pages.
    assert client.get(f"/api/v1/synthesis/{old_job.code}").status_code == 200
    assert client.get(f"/api/v1/voices/{xena.code}").status_code == 200
    history = xi_client(api_key(owner, "history:read")).get("/v1/history")
    assert history.status_code == 200 and history.json()["history"][0]["model_id"] is None
    browser = Client()
    browser.force_login(owner)
    for page in ("/speak/", "/dashboard/", f"/jobs/{old_job.code}/", "/history/", "/voices/"):
        assert browser.get(page).status_code == 200, page
    speak = browser.post(
        "/speak/", {"text": "Hi.", "voice": str(xena.code), "output_format": "mp3", "speed": "1"}
    )
    assert speak.status_code == 200 and "Xena is not built for that model" in speak.content.decode()
    assert SynthesisJob.objects.count() == 1


@pytest.mark.django_db
def test_the_pages_do_not_offer_xtts(owner, commercial):
    make_ready_voice(owner, "Xena", language="en")
    voice_for_both_toys(owner)
    browser = Client()
    browser.force_login(owner)
    speak = browser.get("/speak/").content.decode()
    assert 'value="xtts"' not in speak and "xtts__temperature" not in speak
    assert 'value="toyb"' in speak
    dashboard = browser.get("/dashboard/").content.decode()
    assert 'data-testid="model-xtts"' not in dashboard and 'data-testid="model-toy"' in dashboard
    assert "Commercial mode is on" in dashboard


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_in_commercial_mode_neither_loads_nor_publishes_xtts(tmp_path):
    """A real worker started with TIMBRE_COMMERCIAL_ONLY=1 and told to load xtts and the toy:
    it loads the toy and says nothing about xtts (not installed, as far as it knows). It
    consumes a queue nobody sends to, so it takes no other test's work."""
    worker = WorkerProcess(
        queues=("synthesis.commercial-probe",),
        log_dir=tmp_path,
        extra_env={
            "TIMBRE_COMMERCIAL_ONLY": "1",
            "TIMBRE_WORKER_ENGINES": "xtts,toy",
            "TIMBRE_DEVICE": "cpu",
        },
    )
    node = worker.name.split("@")[0] + "@"
    try:
        worker.wait_ready()
        mine = EngineStatusRecord.objects.filter(hostname__startswith=node)
        wait_for(lambda: mine.filter(engine="toy").exists(), what="the toy engine's status")
        assert mine.get(engine="toy").ready
        assert not mine.filter(engine="xtts").exists()
        assert "TIMBRE_WORKER_ENGINES names engines not installed: xtts" in worker.log()
    finally:
        worker.stop()
