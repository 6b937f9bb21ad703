"""The official SDKs against a live server and a real worker: OpenAI's flac is read by soundfile
with its length, ElevenLabs' ulaw_8000 / alaw_8000 are raw 8 kHz G.711 for phone lines, and
an mp3_44100_128 request is stored at 128 kbit/s and reported as such in the history.

The voice is the toy engine's (a tone of 0.05 s per character, 16 kHz), so the lengths are
known and no model runs; the worker, the stream channel and the encoders are the real ones.
"""

from __future__ import annotations

import io

import pytest
import soundfile

from tests.support.toy_engine.engine import SECONDS_PER_CHARACTER
from tests.synthesis.compat.support import (
    api_key,
    eleven_client,
    openai_client,
    wait_jobs_finished,
)
from tests.synthesis.format_checks import (
    bit_rate_and_sample_rate,
    ffprobe_seconds,
    g711_seconds,
    streaminfo,
)
from tests.voices.helpers import make_ready_voice

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TEXT = "A tone of known length."
SECONDS = len(TEXT) * SECONDS_PER_CHARACTER
# The joiner may fade or pad the edges of a chunk a little.
SLACK = 0.1


def test_sdks_get_flac_with_a_length_phone_formats_and_the_asked_bitrate(
    live_server, owner, celery_worker
):
    voice = make_ready_voice(owner, "Toy", engine="toy")
    key = api_key(owner, "tts", "history:read")

    flac = (
        openai_client(live_server, key)
        .audio.speech.create(model="tts-1", voice="Toy", input=TEXT, response_format="flac")
        .content
    )
    samples, rate = soundfile.read(io.BytesIO(flac))  # "array is too big" before the fix
    assert rate == 24_000
    assert samples.size / rate == pytest.approx(SECONDS, abs=SLACK)
    assert streaminfo(flac) == (24_000, samples.size)
    assert ffprobe_seconds(flac) == pytest.approx(samples.size / rate, abs=0.001)

    eleven = eleven_client(live_server, key)
    for output_format, ffmpeg_format in (("ulaw_8000", "mulaw"), ("alaw_8000", "alaw")):
        data = b"".join(
            eleven.text_to_speech.convert(str(voice.code), text=TEXT, output_format=output_format)
        )
        assert len(data) == pytest.approx(SECONDS * 8000, abs=SLACK * 8000)
        assert g711_seconds(data, ffmpeg_format) == len(data) / 8000

    streamed = b"".join(
        eleven.text_to_speech.convert(str(voice.code), text=TEXT, output_format="mp3_44100_128")
    )
    assert bit_rate_and_sample_rate(streamed)[1] == 44_100
    wait_jobs_finished()
    latest = eleven.history.list().history[0]
    assert latest.output_format == "mp3_44100_128"
    stored = b"".join(eleven.history.get_audio(latest.history_item_id))
    assert bit_rate_and_sample_rate(stored) == (128_000, 44_100)
