"""Commercial mode with Chatterbox (issue 14): the Chatterbox worker runs with
TIMBRE_COMMERCIAL_ONLY=1 and is told to load XTTS too (tests/conftest.py `chatterbox_worker`);
it loads and publishes Chatterbox alone. A web in commercial mode lists Chatterbox, not XTTS,
refuses xtts-v2 with a 400 and speaks chatterbox-multilingual."""

from __future__ import annotations

import pytest

from config import queueing
from synthesis.models import EngineStatusRecord, SynthesisJob
from tests.support.waiting import wait_for
from tests.synthesis.chatterbox_worker.conftest import MODEL, TOKENS
from tests.synthesis.compat.support import api_key, bearer_client
from tests.synthesis.support import wait_job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_worker_loads_and_publishes_chatterbox_alone(chatterbox_worker):
    node = chatterbox_worker.name.split("@")[0] + "@"
    mine = EngineStatusRecord.objects.filter(hostname__startswith=node)
    # Said again on demand (an earlier test's flush emptied the table): the task goes to the
    # Chatterbox queue and the worker publishes what it loads, not every installed engine.
    assert queueing.task_send("synthesis.tasks.engine_status_publish", engine="chatterbox")
    record = wait_for(lambda: mine.filter(engine="chatterbox").first(), what="its status")
    assert record.ready and record.device == "cpu", (record.reason, record.fix)
    assert record.model_version.startswith("chatterbox-mtl-")
    assert set(mine.values_list("engine", flat=True)) == {"chatterbox"}
    log = chatterbox_worker.log()
    assert "TIMBRE_WORKER_ENGINES names engines not installed: xtts" in log
    loads = [line for line in log.splitlines() if " loaded on cpu in " in line]
    assert len(loads) == 1 and "Chatterbox chatterbox-mtl-" in loads[0], loads


def test_commercial_mode_offers_chatterbox_and_refuses_xtts(owner, cb_voice, settings):
    settings.TIMBRE_COMMERCIAL_ONLY = True
    settings.SYNTHESIS_DEFAULT_PARAMS = {"max_new_tokens": TOKENS, "seed": 7}
    assert queueing.task_send("synthesis.tasks.engine_status_publish", engine="chatterbox")
    client = bearer_client(api_key(owner, "tts"))

    def listed():
        data = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        return data if data.get(MODEL, {}).get("loaded") else None

    models = wait_for(listed, what="chatterbox listed as loaded")
    assert "xtts-v2" not in models
    assert models[MODEL]["commercial_use"] is True

    speech = "/v1/audio/speech"
    body = {"model": "xtts-v2", "input": "Hello.", "voice": cb_voice.name, "response_format": "wav"}
    refused = client.post(speech, body, format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["code"] == "unsupported_model"
    assert not SynthesisJob.objects.exists()

    spoken = client.post(speech, {**body, "model": MODEL}, format="json")
    assert spoken.status_code == 200, spoken.content
    audio = b"".join(spoken.streaming_content) if spoken.streaming else spoken.content
    assert audio[:4] == b"RIFF"
    job = wait_job(SynthesisJob.objects.get())
    assert (job.status, job.engine) == ("succeeded", "chatterbox")
