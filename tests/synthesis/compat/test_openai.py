"""The official openai SDK against a live server: refusals, and speech from a real worker."""

# Fixtures imported from test_compat_support are redefined as test arguments, as pytest wants.
# ruff: noqa: F811

from __future__ import annotations

import base64
import json
import time

import openai
import pytest

from synthesis.engines import engines
from synthesis.models import SynthesisJob
from tests.synthesis.audio_helpers import ffprobe
from tests.synthesis.compat.support import (  # noqa: F401 (fixtures)
    TOKENS,
    api_key,
    built_voice,
    decoded_seconds,
    fixed_tokens,
    openai_client,
    stock_voice,
    wait_for,
    wait_jobs_finished,
)
from tests.voices.helpers import make_ready_voice

SECONDS_PER_CHUNK = TOKENS * 1024 / 22_050  # one XTTS audio token is 1,024 samples at 22.05 kHz


# --- no worker needed ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_sdk_surfaces_our_error_messages(live_server, owner, stranger):
    voice = make_ready_voice(owner, "Anna")
    client = openai_client(live_server, api_key(owner, "tts"))
    speak = client.audio.speech.create
    with pytest.raises(openai.BadRequestError) as bad:
        speak(model="tts-1", voice="Anna", input="")
    assert bad.value.body["code"] == "empty_text" and "empty" in bad.value.body["message"]
    with pytest.raises(openai.BadRequestError) as bad:
        speak(model="tts-1", voice="Anna", input="Hi.", response_format="wma")
    assert "wma" in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        speak(model="tts-1", voice="Anna", input="Hi.", speed=4.01)
    assert "speed must be between 0.25 and 4.0" in bad.value.message
    with pytest.raises(openai.BadRequestError):
        speak(model="whisper-1", voice="Anna", input="Hi.")
    with pytest.raises(openai.NotFoundError) as missing:
        speak(model="tts-1", voice="alloy", input="Hi.")
    assert missing.value.body["code"] == "voice_not_found"
    strangers = openai_client(live_server, api_key(stranger, "tts")).audio.speech.create
    with pytest.raises(openai.NotFoundError):
        strangers(model="tts-1", voice={"id": str(voice.code)}, input="Hi.")
    with pytest.raises(openai.AuthenticationError):
        openai_client(live_server, "wrong").audio.speech.create(
            model="tts-1", voice="Anna", input="Hi."
        )
    reader = openai_client(live_server, api_key(owner, "voices:read"))
    with pytest.raises(openai.PermissionDeniedError) as denied:
        reader.audio.speech.create(model="tts-1", voice="Anna", input="Hi.")
    assert "tts" in denied.value.message
    assert not SynthesisJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sdk_lists_models(live_server, owner):
    models = openai_client(live_server, api_key(owner, "tts")).models.list()
    ids = {m.id for m in models}
    aliases = {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"}
    # Every installed engine's model (xtts-v2, piper, the toys, ...) beside the aliases.
    assert {*aliases, "xtts-v2", "piper", "toy-1"} <= ids
    assert ids == {*aliases, *(facts.model_id for facts in engines().values())}


# --- with the worker ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["mp3", "wav"])
@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_speech_is_decodable_audio(live_server, owner, built_voice, fmt):
    client = openai_client(live_server, api_key(owner, "tts"))
    # By name in another case for mp3, by {"id"} for wav: both ways the SDK can send a voice.
    voice = "NARRATOR" if fmt == "mp3" else {"id": str(built_voice.code)}
    audio = client.audio.speech.create(
        model="tts-1", voice=voice, input="Hello there. This is a test.", response_format=fmt
    )
    info = ffprobe(audio.content)
    assert info["codec"] == {"mp3": "mp3", "wav": "pcm_s16le"}[fmt]
    assert (info["sample_rate"], info["channels"]) == (24_000, 1)
    job = SynthesisJob.objects.get()
    seconds = decoded_seconds(audio.content)
    expected = max(job.chunks_total, 1) * SECONDS_PER_CHUNK
    assert expected * 0.8 <= seconds <= expected * 1.2 + 0.5
    # The stream job also kept the whole file (for the history).
    job = wait_for(_finished_job, what="the job to finish")
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert (job.stream, job.output_format, job.params["max_new_tokens"]) == (True, fmt, TOKENS)


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_streaming_response_arrives_in_pieces(live_server, owner, built_voice):
    client = openai_client(live_server, api_key(owner, "tts"))
    text = "One paragraph.\n\nA second one.\n\nAnd a third.\n\nThe last."
    started, arrivals = time.monotonic(), []
    with client.audio.speech.with_streaming_response.create(
        model="xtts-v2", voice="Narrator", input=text, response_format="pcm"
    ) as response:
        assert response.headers["content-type"] == "audio/pcm"
        for piece in response.iter_bytes():
            arrivals.append((time.monotonic() - started, piece))
    body = b"".join(piece for _, piece in arrivals)
    assert len(arrivals) >= 2, "the audio came as one block"
    assert arrivals[0][0] < arrivals[-1][0]
    job = wait_for(_finished_job, what="the job to finish")
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert job.chunks_total == 4  # one per paragraph
    # What was streamed is what the worker stored (pcm at 24 kHz both times).
    assert body == job.audio.read()


def _finished_job() -> SynthesisJob | None:
    job = SynthesisJob.objects.get()
    return job if job.is_terminal else None


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sse_stream_format(live_server, owner, built_voice):
    client = openai_client(live_server, api_key(owner, "tts"))
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="Narrator",
        input="Events, please.",
        response_format="mp3",
        stream_format="sse",
        instructions="Speak calmly.",  # accepted, no effect
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")
        ]
    assert events and events[-1]["type"] == "speech.audio.done"
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) == len(events) - 1 >= 1
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert ffprobe(audio)["codec"] == "mp3"
    wait_jobs_finished()


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_stock_voice_speaks(live_server, owner, celery_worker, stock_voice):
    client = openai_client(live_server, api_key(owner, "tts"))
    audio = client.audio.speech.create(
        model="piper", voice=stock_voice.name.lower(), input="A stock voice.", response_format="wav"
    )
    info = ffprobe(audio.content)
    assert (info["codec"], info["sample_rate"]) == ("pcm_s16le", 24_000)
    assert len(audio.content) > 44 + 2 * 24_000 * 0.3  # Piper speaks real words: > 0.3 s
    wait_jobs_finished()
    job = SynthesisJob.objects.get()
    assert (job.voice, job.owner, job.status) == (stock_voice, owner, SynthesisJob.Status.SUCCEEDED)


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_client_hanging_up_cancels_the_job(live_server, owner, built_voice):
    client = openai_client(live_server, api_key(owner, "tts"))
    text = "\n\n".join(f"Paragraph number {n}." for n in range(30))
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="Narrator", input=text, response_format="pcm"
    ) as response:
        assert next(response.iter_bytes())  # then leave without reading the rest
    wait_jobs_finished()
    job = SynthesisJob.objects.get()
    assert (job.status, job.cancel_requested) == (SynthesisJob.Status.CANCELLED, True)
    assert job.chunks_done < job.chunks_total == 30
