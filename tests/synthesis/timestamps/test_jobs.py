"""Timestamps end to end with the real worker: a native job made with `timestamps: true`, its
timings (exact joins, monotonic, covering the audio), words, captions, retention; the
ElevenLabs SDK's convert_with_timestamps against a live server.

The toy engine (a tone of 0.05 s per character, 16 kHz) makes lengths known to the sample; the
tiny XTTS checkpoint shows the engine's own alignment being used.
"""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
import webvtt
from django.core.files.storage import default_storage
from django.utils import timezone

from synthesis.jobs.joining import PARAGRAPH_PAUSE_MS
from synthesis.jobs.retention import retention_sweep
from synthesis.jobs.text import normalize_text
from synthesis.models import SynthesisJob
from tests.support.toy_engine.engine import SECONDS_PER_CHARACTER
from tests.support.waiting import wait_for
from tests.synthesis.compat.support import api_key, eleven_client, wait_jobs_finished
from tests.synthesis.support import voice_built_by_worker
from tests.voices.helpers import key_client, make_ready_voice

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RATE = 16_000  # the toy engine's
OVERLAP = 160  # the joiner's 10 ms crossfade at 16 kHz
PAUSE = PARAGRAPH_PAUSE_MS * RATE // 1000
TEXT = (
    "The first sentence is rather long here. And a second one follows it.\n\n"
    "A new paragraph starts here. It ends."
)


def finished(client, code) -> dict:
    def done():
        body = client.get(f"/api/v1/synthesis/{code}").json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    body = wait_for(done, timeout=240, what="the job to finish")
    assert body["status"] == "succeeded", body["error"]
    return body


def expected_spans(chunks: list[dict]) -> list[tuple[int, int]]:
    """Each chunk's span worked out from the raw chunk lengths alone (what the joiner does)."""
    spans, audio_end = [], 0
    for index, chunk in enumerate(chunks):
        if index == 0:
            origin = start = 0
        elif chunks[index - 1]["pause_after"]:
            origin = start = audio_end + PAUSE
        else:
            origin = audio_end - OVERLAP
            start = origin + OVERLAP // 2
            spans[-1] = (spans[-1][0], start)
        audio_end = origin + chunk["samples"]
        spans.append((start, audio_end))
    return spans


def cue_seconds(clock: str) -> float:
    hours, minutes, seconds = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def assert_monotonic(starts, ends):
    assert all(s <= e for s, e in zip(starts, ends, strict=True))
    assert all(e <= s for e, s in zip(ends, starts[1:], strict=False))


def test_native_job_with_timestamps_lands_chunks_on_the_joins(owner, celery_worker):
    voice = make_ready_voice(owner, "Toy", engine="toy", language="en")
    client = key_client(owner, ["tts", "history:read"])
    created = client.post(
        "/api/v1/synthesis",
        {"text": TEXT, "voice": str(voice.code), "format": "wav", "timestamps": True},
        format="json",
    )
    assert created.status_code == 202, created.json()
    assert created.json()["timestamps"] is True
    body = finished(client, created.json()["id"])

    timings = client.get(body["timings"]["url"]).json()
    chunks = timings["chunks"]
    assert [c["text"] for c in chunks] == [
        "The first sentence is rather long here.",
        "And a second one follows it.",
        "A new paragraph starts here. It ends.",
    ]
    for chunk in chunks:  # the toy's tone: 0.05 s per character, before joining
        assert chunk["samples"] == round(len(chunk["text"]) * SECONDS_PER_CHARACTER * RATE)
        chunk["pause_after"] = chunk["index"] == 1
    assert [(c["start_sample"], c["end_sample"]) for c in chunks] == expected_spans(chunks)
    total = expected_spans(chunks)[-1][1]
    assert timings["duration"] == total / RATE == pytest.approx(body["durations"]["audio_seconds"])
    assert chunks[1]["start"] - chunks[0]["end"] == 0  # a crossfaded join
    assert chunks[2]["start"] - chunks[1]["end"] == pytest.approx(PARAGRAPH_PAUSE_MS / 1000)

    for chunk in chunks:  # a loud tone throughout: the estimate fills each span exactly
        assert chunk["source"] == "estimate"
        assert chunk["characters"] == list(chunk["text"])
        assert_monotonic(chunk["starts"], chunk["ends"])
        assert (chunk["starts"][0], chunk["ends"][-1]) == (chunk["start"], chunk["end"])
        assert timings["text"][chunk["text_offset"] :].startswith(chunk["text"])
    assert chunks[-1]["ends"][-1] == timings["duration"]  # covers the audio to its last sample

    words = body["timings"]["words"]
    assert [w["word"] for w in words] == TEXT.split()
    assert words == timings["words"]
    first_chunk = chunks[0]
    assert words[0]["start"] == round(first_chunk["starts"][0], 3)
    assert words[1]["end"] == round(first_chunk["ends"][len("The first") - 1], 3)

    alignment = timings["alignment"]
    assert alignment["characters"] == list(TEXT)
    assert_monotonic(
        alignment["character_start_times_seconds"], alignment["character_end_times_seconds"]
    )

    vtt = client.get(body["captions"]["vtt"])
    assert vtt.status_code == 200 and vtt["Content-Type"].startswith("text/vtt")
    cues = list(webvtt.from_buffer(io.StringIO(vtt.content.decode())))
    assert [c.text for c in cues] == [c["text"] for c in chunks]
    assert cue_seconds(cues[-1].end) == round(chunks[-1]["ends"][-1], 3)
    srt = client.get(body["captions"]["srt"]).content.decode()
    # 39 characters of 800 samples, less half the crossfade: 31,120 samples = 1.945 s
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,945\nThe first sentence")
    assert srt.count(" --> ") == 3
    assert client.get(f"/api/v1/synthesis/{body['id']}/captions?format=srt").content.decode() == srt
    assert client.get(f"/api/v1/synthesis/{body['id']}/captions?format=ass").status_code == 400

    # Retention deletes the timings with the audio.
    job = SynthesisJob.objects.get(code=body["id"])
    name = job.timings.name
    assert default_storage.exists(name)
    SynthesisJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert retention_sweep()["jobs"] == 1
    wait_for(lambda: not default_storage.exists(name), timeout=10, what="the timings removed")
    gone = client.get(f"/api/v1/synthesis/{body['id']}/captions.vtt")
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "audio_gone"


def test_any_finished_job_gets_estimated_captions(owner, celery_worker, stranger):
    voice = make_ready_voice(owner, "Toy", engine="toy", language="en")
    client = key_client(owner, ["tts", "history:read"])
    created = client.post(
        "/api/v1/synthesis", {"text": TEXT, "voice": str(voice.code)}, format="json"
    ).json()
    body = finished(client, created["id"])
    assert body["timestamps"] is False and body["timings"] is None
    timings = client.get(f"/api/v1/synthesis/{body['id']}/timings").json()
    assert {c["source"] for c in timings["chunks"]} == {"estimate"}
    cues = list(
        webvtt.from_buffer(io.StringIO(client.get(body["captions"]["vtt"]).content.decode()))
    )
    assert len(cues) == 3
    assert cue_seconds(cues[-1].end) == pytest.approx(body["durations"]["audio_seconds"], abs=0.002)
    others = key_client(stranger, ["history:read"])
    assert others.get(f"/api/v1/synthesis/{body['id']}/captions.vtt").status_code == 404


def test_xtts_job_uses_the_engines_own_alignment(owner, celery_worker, tmp_path):
    voice = voice_built_by_worker(celery_worker, owner, tmp_path, name="Tiny", language="en")
    client = key_client(owner, ["tts", "history:read"])
    created = client.post(
        "/api/v1/synthesis",
        {
            "text": "One sentence here. Another one there.",
            "voice": str(voice.code),
            "format": "wav",
            "timestamps": True,
            "parameters": {"seed": 7, "max_new_tokens": 10},
        },
        format="json",
    ).json()
    body = finished(client, created["id"])
    timings = client.get(body["timings"]["url"]).json()
    assert body["timings"]["source"] == "engine"
    assert {c["source"] for c in timings["chunks"]} == {"engine"}
    for chunk in timings["chunks"]:
        assert_monotonic(chunk["starts"], chunk["ends"])
        assert chunk["start"] <= chunk["starts"][0] and chunk["ends"][-1] <= chunk["end"]
    assert timings["chunks"][-1]["ends"][-1] == pytest.approx(timings["duration"], abs=0.01)


def test_elevenlabs_sdk_convert_with_timestamps(live_server, owner, celery_worker):
    voice = make_ready_voice(owner, "Toy", engine="toy", language="en")
    eleven = eleven_client(live_server, api_key(owner, "tts", "history:read"))
    text = "Hello  world, it's 5 o'clock. Bye!"
    result = eleven.text_to_speech.convert_with_timestamps(
        str(voice.code), text=text, output_format="pcm_16000"
    )
    audio = base64.b64decode(result.audio_base_64)
    seconds = len(audio) / 2 / RATE
    normalized = normalize_text(text)
    for alignment, spelled in ((result.alignment, text), (result.normalized_alignment, normalized)):
        assert alignment.characters == list(spelled)
        starts = alignment.character_start_times_seconds
        ends = alignment.character_end_times_seconds
        assert len(starts) == len(ends) == len(spelled)
        assert_monotonic(starts, ends)
        assert starts[0] == 0.0
        assert ends[-1] == pytest.approx(seconds, abs=0.002)
    wait_jobs_finished()
    job = SynthesisJob.objects.get()
    assert job.timestamps and job.stream and job.timings


def test_native_stream_with_timestamps_stores_timings_and_streams_plain_audio(owner, celery_worker):
    voice = make_ready_voice(owner, "Toy", engine="toy", language="en")
    client = key_client(owner, ["tts", "history:read"])
    response = client.post(
        "/api/v1/synthesis/stream",
        {"text": TEXT, "voice": str(voice.code), "format": "pcm", "timestamps": True},
        format="json",
    )
    assert response.status_code == 200
    audio = b"".join(response.streaming_content)  # alignment events never leak into the audio
    body = finished(client, response["X-Synthesis-Job"])
    timings = client.get(body["timings"]["url"]).json()
    assert len(audio) // 2 == round(timings["duration"] * body["sample_rate"])  # pcm: s16le
    assert [c["index"] for c in timings["chunks"]] == [0, 1, 2]
