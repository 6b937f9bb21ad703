"""Formats over HTTP without a worker: FLAC answers carry their length, ulaw_8000 / alaw_8000
are raw G.711, and the bitrate a client asks for is what is stored and reported.

The worker's stream channel is pre-filled with float pieces, so the real encoding and relay
run; stored files come from an in-process run of the job with the toy engine.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import soundfile

from config.service_errors import ServiceError
from synthesis.jobs import runner, services, streaming
from synthesis.models import SynthesisJob
from tests.synthesis.compat.support import api_key, bearer_client, xi_client
from tests.synthesis.format_checks import (
    bit_rate_and_sample_rate,
    ffprobe_seconds,
    g711_seconds,
    streaminfo,
)
from tests.voices.helpers import make_ready_voice
from voices.models import Voice

pytestmark = pytest.mark.django_db

SR = 24_000  # XTTS voices generate at this rate
SPEECH = "/v1/audio/speech"
OCTET = {"HTTP_ACCEPT": "application/octet-stream"}  # what the openai SDK sends


def _sine(seconds, *, rate=SR):
    t = np.arange(round(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "Anna", language="en")


@pytest.fixture
def worker_audio(monkeypatch, tmp_path):
    """Stand in for the worker: its float pieces wait in the stream channel the route reads."""

    def install(audio: np.ndarray, *, piece=SR // 10):
        channel = streaming.FileChannel("job")
        channel.dir = tmp_path / "channel"
        for start in range(0, audio.size, piece):
            channel.push(audio[start : start + piece].tobytes())
        channel.end()
        monkeypatch.setattr(streaming, "channel_for", lambda code: channel)

    return install


# --- FLAC has a length --------------------------------------------------------------------------
def test_openai_flac_is_one_file_whose_header_has_the_length(owner, voice, worker_audio):
    worker_audio(_sine(1.5))
    tts = bearer_client(api_key(owner, "tts"))
    body = {"model": "tts-1", "input": "Hello there.", "voice": "Anna", "response_format": "flac"}
    response = tts.post(SPEECH, body, format="json", **OCTET)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "audio/flac"
    pieces = list(response.streaming_content)
    assert len(pieces) == 1  # sent whole, once the audio is complete
    assert streaminfo(pieces[0]) == (SR, 36_000)
    assert ffprobe_seconds(pieces[0]) == pytest.approx(1.5, abs=0.001)
    samples, rate = soundfile.read(io.BytesIO(pieces[0]))
    assert (samples.size, rate) == (36_000, SR)


def test_openai_flac_over_sse_is_one_delta_holding_the_whole_file(owner, voice, worker_audio):
    worker_audio(_sine(1.0))
    tts = bearer_client(api_key(owner, "tts"))
    body = {"model": "gpt-4o-mini-tts", "input": "Hi.", "voice": "Anna"}
    body |= {"response_format": "flac", "stream_format": "sse"}
    response = tts.post(SPEECH, body, format="json")
    events = [
        json.loads(line[len("data: ") :])
        for line in b"".join(response.streaming_content).decode().splitlines()
        if line.startswith("data: ")
    ]
    assert [event["type"] for event in events] == ["speech.audio.delta", "speech.audio.done"]
    data = base64.b64decode(events[0]["audio"])
    assert streaminfo(data) == (SR, SR)
    assert soundfile.read(io.BytesIO(data))[0].size == SR


def test_native_flac_stream_has_the_length_too(owner, voice, worker_audio):
    worker_audio(_sine(0.5))
    client = bearer_client(api_key(owner, "tts"))
    body = {"text": "Hello.", "voice": str(voice.code), "format": "flac"}
    response = client.post("/api/v1/synthesis/stream", body, format="json")
    assert response.status_code == 200, response.content
    data = b"".join(response.streaming_content)
    assert streaminfo(data) == (SR, SR // 2)


# --- ulaw_8000 / alaw_8000 ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("output_format", "content_type", "ffmpeg_format"),
    [("ulaw_8000", "audio/basic", "mulaw"), ("alaw_8000", "audio/x-alaw-basic", "alaw")],
)
def test_elevenlabs_telephone_formats_are_raw_8khz_g711(
    owner, voice, worker_audio, output_format, content_type, ffmpeg_format
):
    worker_audio(_sine(1.5))
    client = xi_client(api_key(owner, "tts"))
    url = f"/v1/text-to-speech/{voice.code}/stream?output_format={output_format}"
    response = client.post(url, {"text": "Press one."}, format="json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == content_type
    data = b"".join(response.streaming_content)
    assert len(data) == 1.5 * 8000  # one byte per sample, no header
    assert g711_seconds(data, ffmpeg_format) == pytest.approx(1.5)
    job = SynthesisJob.objects.get()
    codec = output_format.split("_")[0]
    assert (job.output_format, job.sample_rate, job.bitrate) == (codec, 8000, None)


@pytest.mark.parametrize(
    ("output_format", "says"),
    [
        ("ulaw_16000", "ulaw does not support 16000 Hz. Choose one of: 8000."),
        ("alaw_44100", "alaw does not support 44100 Hz"),
        ("ulaw_8000_64", "ulaw output has no bitrate"),
        ("gsm_8000", "gsm output is not available here"),
    ],
)
def test_elevenlabs_refuses_other_telephone_variants_in_its_shape(
    owner, voice, output_format, says
):
    client = xi_client(api_key(owner, "tts"))
    url = f"/v1/text-to-speech/{voice.code}?output_format={output_format}"
    response = client.post(url, {"text": "Hi."}, format="json")
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]  # what the elevenlabs SDK reads
    assert detail["status"] == "unsupported_format"
    assert says in detail["message"]
    assert not SynthesisJob.objects.exists()


# --- bitrate: stored as asked, reported in full -------------------------------------------------
def test_elevenlabs_bitrate_is_kept_on_the_job_and_reported(owner, voice, worker_audio):
    worker_audio(_sine(0.5))
    client = xi_client(api_key(owner, "tts", "history:read"))
    url = f"/v1/text-to-speech/{voice.code}?output_format=mp3_44100_128"
    assert client.post(url, {"text": "Hi."}, format="json").status_code == 200
    job = SynthesisJob.objects.get()
    assert (job.output_format, job.sample_rate, job.bitrate) == ("mp3", 44_100, 128_000)
    item = client.get(f"/v1/history/{job.code}").json()
    assert item["output_format"] == "mp3_44100_128"
    assert client.get("/v1/history").json()["history"][0]["output_format"] == "mp3_44100_128"


@pytest.mark.parametrize(
    ("fmt", "rate", "bitrate", "name"),
    [
        ("mp3", 22_050, 32_000, "mp3_22050_32"),
        ("opus", 48_000, 192_000, "opus_48000_192"),
        ("mp3", 44_100, None, "mp3_44100_64"),  # older jobs: the default they were stored at
        ("pcm", 16_000, None, "pcm_16000"),
        ("ulaw", 8_000, None, "ulaw_8000"),
    ],
)
def test_history_names_each_format_as_elevenlabs_does(owner, voice, fmt, rate, bitrate, name):
    job = SynthesisJob.objects.create(
        owner=owner, voice=voice, text="Hi.", output_format=fmt, sample_rate=rate, bitrate=bitrate
    )
    client = xi_client(api_key(owner, "history:read"))
    assert client.get(f"/v1/history/{job.code}").json()["output_format"] == name


def _run_in_process(monkeypatch, owner, **request) -> SynthesisJob:
    """A job accepted by the service and run here by the worker's code (toy engine, 16 kHz)."""
    monkeypatch.setattr("config.queueing.task_send", lambda name, **kwargs: True)
    voice = Voice.objects.filter(owner=owner, name="Toy").first()
    voice = voice or make_ready_voice(owner, "Toy", engine="toy")
    job = services.job_create(owner=owner, voice=voice, text="A tone for a second.", **request)
    runner.job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    return job


def test_stored_mp3_has_the_asked_bitrate(owner, monkeypatch):
    job = _run_in_process(
        monkeypatch, owner, output_format="mp3", sample_rate=44_100, bitrate=128_000
    )
    assert bit_rate_and_sample_rate(job.audio.read()) == (128_000, 44_100)
    default = _run_in_process(monkeypatch, owner, output_format="mp3", sample_rate=44_100)
    assert default.bitrate is None
    assert bit_rate_and_sample_rate(default.audio.read()) == (64_000, 44_100)


def test_stored_ulaw_is_raw_8khz(owner, monkeypatch):
    job = _run_in_process(monkeypatch, owner, output_format="ulaw")
    assert (job.sample_rate, job.audio.name.rsplit(".", 1)[1]) == (8000, "ul")
    data = job.audio.read()
    assert len(data) == pytest.approx(job.audio_seconds * 8000, abs=1)
    assert g711_seconds(data, "mulaw") == pytest.approx(job.audio_seconds, abs=0.001)


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        ({"output_format": "wav", "bitrate": 64_000}, "wav format has no bitrate option"),
        ({"output_format": "mp3", "bitrate": 999_000}, "supports bitrates from"),
    ],
)
def test_a_bitrate_the_format_cannot_take_is_refused(owner, request_, says):
    voice = make_ready_voice(owner, "Toy", engine="toy")
    with pytest.raises(ServiceError) as refusal:
        services.job_create(owner=owner, voice=voice, text="Hi.", **request_)
    assert refusal.value.code == "unsupported_bitrate"
    assert says in refusal.value.message
    assert not SynthesisJob.objects.exists()
