"""An engine is a package and nothing else: the test-only toy engine (tests/support/toy_engine),
named only in the test settings' TIMBRE_ENGINES, goes end to end through a real worker and
through the native and the OpenAI-compatible APIs. Its facts alone decide what is accepted:
Esperanto (no other engine speaks it), a 16 kHz rate, and a `pitch_hz` parameter."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from synthesis.engines import engine_for_model, engines
from synthesis.models import SynthesisJob
from tests.support.toy_engine.engine import SECONDS_PER_CHARACTER
from tests.synthesis.compat.support import api_key, bearer_client
from tests.synthesis.support import voice_built_by_worker, wait_job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TEXT = "Saluton, mondo. Kiel vi fartas hodiau?"


def dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[int(np.argmax(spectrum))])


@pytest.fixture
def toy_voice(owner, celery_worker, tmp_path):
    """A voice cloned by the toy engine, built by the real worker's conditioning task."""
    return voice_built_by_worker(
        celery_worker, owner, tmp_path, name="Toy", language="eo", engine="toy", seconds=3.0
    )


def test_the_toy_engine_is_registered_by_settings_alone():
    assert "toy" in engines()
    assert engine_for_model("toy-1").name == "toy"


def test_native_api_synthesizes_with_the_toy_engine(owner, toy_voice):
    client = bearer_client(api_key(owner, "all"))
    languages = client.get("/api/v1/languages").json()
    esperanto = next(entry for entry in languages if entry["code"] == "eo")
    assert esperanto["engines"] == ["toy"]

    body = {"voice": str(toy_voice.code), "text": TEXT, "format": "wav"}
    refused = client.post("/api/v1/synthesis", {**body, "language": "de"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "unsupported_language"
    refused = client.post(
        "/api/v1/synthesis", {**body, "parameters": {"temperature": 0.5}}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_parameters"
    assert "pitch_hz" in refused.json()["error"]["message"]

    created = client.post(
        "/api/v1/synthesis", {**body, "parameters": {"pitch_hz": 330}}, format="json"
    )
    assert created.status_code == 202, created.content
    job = wait_job(SynthesisJob.objects.get(code=created.json()["id"]))
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert (job.language, job.sample_rate, job.params["pitch_hz"]) == ("eo", 16_000, 330.0)
    assert job.chunks_total == 1  # the toy's own limit for eo (40) holds the whole text
    audio = client.get(f"/api/v1/synthesis/{job.code}/audio")
    assert audio.status_code == 200
    samples, rate = sf.read(io.BytesIO(b"".join(audio.streaming_content)), dtype="float32")
    assert rate == 16_000
    assert abs(samples.size / rate - len(TEXT) * SECONDS_PER_CHARACTER) < 0.05
    assert abs(dominant_hz(samples, rate) - 330) < 2


def test_openai_compatible_api_speaks_with_the_toy_engine(owner, toy_voice):
    client = bearer_client(api_key(owner, "all"))
    models = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert "toy-1" in models
    response = client.post(
        "/v1/audio/speech",
        {"model": "toy-1", "voice": "Toy", "input": TEXT, "response_format": "wav"},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = b"".join(response.streaming_content)
    # A streamed WAV has an open-ended header (its length is unknown while streaming).
    assert data[:4] == b"RIFF" and data[36:40] == b"data"
    rate = int.from_bytes(data[24:28], "little")
    samples = np.frombuffer(data[44:], "<i2").astype(np.float32) / 32768
    assert rate == 24_000  # OpenAI clients get 24 kHz, resampled from the toy's 16 kHz
    assert abs(dominant_hz(samples, rate) - 440) < 2  # the toy's declared default pitch
    # The stream ends with the last audio; the worker then encodes, signs and stores the file.
    job = wait_job(SynthesisJob.objects.get(owner=owner, stream=True))
    assert (job.status, job.language) == (SynthesisJob.Status.SUCCEEDED, "eo")
