"""The official elevenlabs SDK, unmodified, against uvicorn over TLS with a real worker and the
tiny XTTS checkpoint: convert_realtime (WebSocket stream-input) and stream_with_timestamps."""

from __future__ import annotations

import base64

import pytest
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError as ElevenApiError

from accounts.usage import characters_remaining
from synthesis.models import SynthesisJob
from tests.synthesis.compat.support import api_key, decoded_seconds, wait_jobs_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PIECES = [
    *("Hello ", "world. ", "This text ", "arrives in ", "small pieces, ", "as from an LLM. "),
    *("It goes on ", "for a while, ", "so that it ", "makes two ", "generations. "),
]


def test_convert_realtime_speaks_text_sent_piecewise(trusted, built_voice, owner):
    client = ElevenLabs(base_url=trusted.url, api_key=api_key(owner, "tts"))
    audio = b"".join(
        client.text_to_speech.convert_realtime(str(built_voice.code), text=iter(PIECES))
    )
    # mp3_44100_128 (the SDK's default); each job speaks at least 0.46 s (10 tokens a chunk).
    assert decoded_seconds(audio, fmt_hint="mp3") > 0.9
    wait_jobs_finished()
    jobs = SynthesisJob.objects.filter(owner=owner).order_by("created_at")
    # The SDK asks for a generation every 50 characters: the text came as two jobs, in order.
    assert [job.text for job in jobs] == [
        "Hello world. This text arrives in small pieces, as from an LLM.",
        "It goes on for a while, so that it makes two generations.",
    ]
    assert {job.status for job in jobs} == {SynthesisJob.Status.SUCCEEDED}
    assert {(job.output_format, job.bitrate) for job in jobs} == {("mp3", 128_000)}
    limit, remaining = characters_remaining(user=owner)
    assert limit - remaining == sum(job.characters for job in jobs)  # charged, once each


def test_convert_realtime_refusals_raise_the_sdks_api_error(trusted, owner, stranger, built_voice):
    client = ElevenLabs(base_url=trusted.url, api_key="not-a-key")
    with pytest.raises(ElevenApiError) as failure:
        b"".join(client.text_to_speech.convert_realtime(str(built_voice.code), text=iter(PIECES)))
    assert failure.value.status_code == 1008
    assert _error(failure.value) == "authentication_failed"
    strangers = ElevenLabs(base_url=trusted.url, api_key=api_key(stranger, "tts"))
    with pytest.raises(ElevenApiError) as failure:
        b"".join(
            strangers.text_to_speech.convert_realtime(str(built_voice.code), text=iter(PIECES))
        )
    assert _error(failure.value) == "voice_not_found"
    assert not SynthesisJob.objects.exists()


def _error(exc: ElevenApiError) -> str:
    """The SDK's body is the server's last message, or the close reason when it was still
    sending when the close came (both name the error)."""
    return exc.body if isinstance(exc.body, str) else exc.body["error"]


def _timed(chunks) -> tuple[bytes, list[str], list[float], list[float]]:
    audio, chars, starts, ends = b"", [], [], []
    for chunk in chunks:
        audio += base64.b64decode(chunk.audio_base_64)
        if chunk.alignment:
            chars += chunk.alignment.characters
            starts += chunk.alignment.character_start_times_seconds
            ends += chunk.alignment.character_end_times_seconds
            assert chunk.normalized_alignment.characters == chunk.alignment.characters
    return audio, chars, starts, ends


@pytest.mark.parametrize("server", ["uvicorn", "live_server"])
def test_stream_with_timestamps(server, request, built_voice, owner):
    """Through uvicorn (the async body) and through Django's WSGI live server (the sync one)."""
    base_url = request.getfixturevalue("trusted" if server == "uvicorn" else "live_server").url
    client = ElevenLabs(base_url=base_url, api_key=api_key(owner, "tts"))
    text = "First sentence here. And a second one."
    chunks = client.text_to_speech.stream_with_timestamps(
        str(built_voice.code), text=text, output_format="pcm_24000"
    )
    audio, chars, starts, ends = _timed(chunks)
    seconds = len(audio) / 2 / 24_000
    assert seconds > 0.4  # at least one chunk of 10 tokens (0.46 s)
    assert "".join(chars).split() == text.split()
    assert len(chars) == len(starts) == len(ends)
    assert starts == sorted(starts) and ends == sorted(ends)
    assert all(end >= start for start, end in zip(starts, ends, strict=True))
    assert ends[-1] <= seconds + 0.05  # times are from the start of this request's audio
    wait_jobs_finished()
    job = SynthesisJob.objects.get(owner=owner)
    assert (job.status, job.timestamps) == (SynthesisJob.Status.SUCCEEDED, True)
