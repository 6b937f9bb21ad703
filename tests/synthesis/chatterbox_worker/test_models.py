"""One voice built for XTTS (session worker) and Chatterbox (Chatterbox worker) from one consent;
the request picks the engine as the model: the native API's `model`, the OpenAI SDK's `model`,
the ElevenLabs SDK's `model_id` and an operator's alias. The test settings' default model is
XTTS, so a request whose model were ignored would be spoken by XTTS, not Chatterbox."""

from __future__ import annotations

import io

import pytest
import soundfile as sf

from synthesis.models import ModelAlias, SynthesisJob
from tests.synthesis.chatterbox_worker.conftest import MODEL, TOKENS, voice_built
from tests.synthesis.compat.support import (
    api_key,
    bearer_client,
    eleven_client,
    openai_client,
    wait_jobs_finished,
)
from tests.synthesis.support import wait_job
from voices.models import Consent

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TEXT = "Hello there, friend."


@pytest.fixture
def both_voice(owner, celery_worker, chatterbox_worker, tmp_path, settings):
    settings.VOICES_CONSENT_RECORDING_REQUIRED = False
    settings.SYNTHESIS_DEFAULT_PARAMS = {"max_new_tokens": TOKENS, "seed": 7}
    settings.TIMBRE_DEFAULT_MODEL = "xtts"  # a request whose model is lost goes to XTTS
    voice = voice_built(owner, tmp_path, chatterbox_worker, engines=("xtts", "chatterbox"))
    assert voice.engine == "xtts" and voice.conditioning
    row = voice.conditionings.get()
    assert (row.engine, row.status) == ("chatterbox", "ready")
    assert Consent.objects.filter(voice=voice).count() == 1
    return voice


def _last() -> SynthesisJob:
    return wait_job(SynthesisJob.objects.order_by("-id").first())


def test_the_native_model_field_picks_each_engine_of_one_voice(owner, both_voice):
    client = bearer_client(api_key(owner, "all"))
    jobs = {}
    for model in ("xtts-v2", MODEL):
        body = {"voice": str(both_voice.code), "text": TEXT, "model": model, "format": "wav"}
        response = client.post("/api/v1/synthesis", body, format="json")
        assert response.status_code == 202, response.content
        jobs[model] = SynthesisJob.objects.get(code=response.json()["id"])
    for model, engine in (("xtts-v2", "xtts"), (MODEL, "chatterbox")):
        job = wait_job(jobs[model])
        assert (job.status, job.engine) == ("succeeded", engine), (model, job.error)
        detail = client.get(f"/api/v1/synthesis/{job.code}").json()
        assert (detail["engine"], detail["model"]) == (engine, model)
        audio = client.get(f"/api/v1/synthesis/{job.code}/audio")
        samples, rate = sf.read(io.BytesIO(b"".join(audio.streaming_content)), dtype="float32")
        assert rate == 24_000 and samples.size > 0, model


def test_the_sdks_select_chatterbox_by_name_and_by_alias(live_server, owner, both_voice):
    ModelAlias.objects.create(name="house_voice", engine="chatterbox")
    openai = openai_client(live_server, api_key(owner, "tts"))
    audio = openai.audio.speech.create(
        model=MODEL, voice=both_voice.name, input=TEXT, response_format="wav"
    ).read()
    samples, rate = sf.read(io.BytesIO(audio), dtype="float32")
    job = _last()
    assert (job.status, job.engine, job.sample_rate) == ("succeeded", "chatterbox", 24_000)
    assert rate == 24_000 and samples.size > 0

    eleven = eleven_client(live_server, api_key(owner, "tts", "history:read"))
    for model_id in (MODEL, "house_voice"):
        pcm = b"".join(
            eleven.text_to_speech.convert(
                str(both_voice.code), text=TEXT, model_id=model_id, output_format="pcm_24000"
            )
        )
        job = _last()
        assert (job.status, job.engine, job.sample_rate) == ("succeeded", "chatterbox", 24_000)
        assert len(pcm) > 0 and len(pcm) % 2 == 0, model_id
    assert eleven.history.list().history[0].model_id == MODEL
    wait_jobs_finished()
