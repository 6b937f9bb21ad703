"""The official openai and elevenlabs SDKs select the model by name and by alias, against a live
server and the real session worker (issue 14). The voice is built for both toy engines (the
second through voice_engine_add, computed by the worker); which engine spoke is heard in the
audio: the toy speaks a sine at pitch_hz (440 Hz), the second toy a square wave at buzz_hz
(300 Hz)."""

from __future__ import annotations

import io

import numpy as np
import openai
import pytest
import soundfile as sf
from elevenlabs.core.api_error import ApiError as ElevenApiError

from synthesis.models import ModelAlias, SynthesisJob
from tests.support.waiting import wait_for
from tests.synthesis.compat.support import (
    api_key,
    eleven_client,
    openai_client,
    wait_jobs_finished,
)
from tests.synthesis.support import voice_built_by_worker
from tests.voices.helpers import make_sample
from voices.models import VoiceConditioning
from voices.services.engines import voice_engine_add

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TEXT = "Hello there, friend."


def dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[int(np.argmax(spectrum))])


@pytest.fixture
def both(owner, celery_worker, tmp_path, settings):
    """A voice built for the toy by the worker, then for the second toy the same way."""
    settings.TIMBRE_DEFAULT_MODEL = "toy"
    voice = voice_built_by_worker(
        celery_worker, owner, tmp_path, name="Both", language="en", engine="toy", seconds=3.0
    )
    make_sample(owner, voice=voice)  # the clean sample a further engine is built from
    voice_engine_add(user=owner, voice=voice, engine="toyb")
    row = VoiceConditioning.objects.get(voice=voice, engine="toyb")

    def built():
        row.refresh_from_db()
        return row.status != VoiceConditioning.Status.BUILDING

    wait_for(built, what="the second toy's conditioning")
    assert row.status == VoiceConditioning.Status.READY, row.failure_reason
    return voice


def _heard(data: bytes) -> tuple[float, int]:
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return dominant_hz(samples, rate), rate


def _last() -> SynthesisJob:
    return SynthesisJob.objects.order_by("-id").first()


def test_openai_sdk_selects_the_model_by_name_and_by_alias(live_server, owner, both):
    ModelAlias.objects.create(name="house-square", engine="toyb")
    client = openai_client(live_server, api_key(owner, "tts"))
    speak = client.audio.speech.create
    for model, engine, hz in [
        ("toy-b-1", "toyb", 300),
        ("house-square", "toyb", 300),
        ("tts-1", "toy", 440),  # the default model (TIMBRE_DEFAULT_MODEL)
        ("toy-1", "toy", 440),
    ]:
        audio = speak(model=model, voice="Both", input=TEXT, response_format="wav").read()
        heard, rate = _heard(audio)
        assert rate == 24_000  # what OpenAI clients expect, whichever engine spoke
        assert abs(heard - hz) < 3, (model, heard)
        assert _last().engine == engine, model
    with pytest.raises(openai.BadRequestError) as unknown:
        speak(model="tts-9000", voice="Both", input=TEXT)
    assert unknown.value.body["code"] == "unsupported_model"
    assert "toy-b-1" in unknown.value.body["message"]
    # The session worker has it loaded; say so again (a transactional test's flush may have
    # removed its published status), then the list must show it.
    from config import queueing
    from synthesis.models import EngineStatusRecord

    assert queueing.task_send("synthesis.tasks.engine_status_publish")
    wait_for(
        lambda: EngineStatusRecord.objects.filter(engine="toyb", ready=True).exists(),
        what="the session worker's toyb status",
    )
    listed = {m.id: m for m in client.models.list()}
    assert listed["house-square"].model_extra["alias_of"] == "toy-b-1"
    assert listed["toy-b-1"].model_extra["loaded"] is True
    wait_jobs_finished()


def test_elevenlabs_sdk_selects_the_model_by_name_and_by_alias(live_server, owner, both):
    ModelAlias.objects.create(name="eleven_square", engine="toyb")
    client = eleven_client(live_server, api_key(owner, "tts", "history:read"))
    vid = str(both.code)
    for model_id, engine, hz in [
        ("toy-b-1", "toyb", 300),
        ("eleven_square", "toyb", 300),
        ("eleven_multilingual_v2", "toy", 440),  # the default model
    ]:
        pcm = b"".join(
            client.text_to_speech.convert(
                vid, text=TEXT, model_id=model_id, output_format="pcm_16000"
            )
        )
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        assert abs(dominant_hz(samples, 16_000) - hz) < 3, model_id
        assert _last().engine == engine, model_id
    timed = client.text_to_speech.convert_with_timestamps(
        vid, text=TEXT, model_id="toy-b-1", output_format="pcm_16000"
    )
    assert timed.alignment is not None and _last().engine == "toyb"
    with pytest.raises(ElevenApiError) as unknown:
        b"".join(client.text_to_speech.convert(vid, text=TEXT, model_id="eleven_v99"))
    assert unknown.value.status_code == 400
    assert unknown.value.body["detail"]["status"] == "unsupported_model"
    history = client.history.list()
    assert history.history[0].model_id == "toy-b-1"
    wait_jobs_finished()
