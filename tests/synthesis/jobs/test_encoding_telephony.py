"""G.711 for phone lines: ulaw and alaw are raw 8 kHz bytes (no header), as ElevenLabs' ulaw_8000
and alaw_8000 answer and Twilio media streams carry them."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from synthesis.jobs.checks import default_sample_rate
from synthesis.jobs.encoding import (
    FORMATS,
    EncodingError,
    StreamEncoder,
    check_options,
    encode,
    encode_raw_file,
)

SR = 24_000
PHONE = 8_000
FFMPEG_FORMAT = {"ulaw": "mulaw", "alaw": "alaw"}
# G.711's code for a zero sample: mu-law 0xFF, A-law 0xD5 (even bits inverted).
SILENCE_BYTE = {"ulaw": 0xFF, "alaw": 0xD5}


def _sine(seconds, *, freq=440.0, rate=SR):
    t = np.arange(round(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _decode(data: bytes, fmt: str) -> np.ndarray:
    """The bytes read back as a phone system would: raw G.711 at 8 kHz, mono."""
    source = ["-f", FFMPEG_FORMAT[fmt], "-ar", "8000", "-ac", "1", "-i", "pipe:0"]
    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", *source, "-f", "f32le", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return np.frombuffer(result.stdout, dtype="<f4")


def _dominant_frequency(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))]


@pytest.mark.parametrize("fmt", ["ulaw", "alaw"])
def test_encoded_bytes_are_raw_g711_of_the_right_length_and_pitch(fmt):
    data = encode(_sine(1.5), sample_rate_in=SR, fmt=fmt, sample_rate_out=PHONE)
    assert len(data) == 1.5 * PHONE  # one byte per sample: nothing but samples, no header
    assert data[:4] not in (b"RIFF", b".snd")
    decoded = _decode(data, fmt)
    assert decoded.size == 1.5 * PHONE
    assert _dominant_frequency(decoded, PHONE) == pytest.approx(440, abs=6)
    assert 0.3 < np.max(np.abs(decoded)) < 0.5  # the level survives (0.4 in)


@pytest.mark.parametrize("fmt", ["ulaw", "alaw"])
def test_silence_is_the_g711_zero_code(fmt):
    data = encode(np.zeros(SR // 10, np.float32), sample_rate_in=SR, fmt=fmt, sample_rate_out=PHONE)
    assert data == bytes([SILENCE_BYTE[fmt]]) * (PHONE // 10)


@pytest.mark.parametrize("fmt", ["ulaw", "alaw"])
def test_stream_is_byte_for_byte_the_whole_file(fmt):
    audio = _sine(2.0)
    whole = encode(audio, sample_rate_in=SR, fmt=fmt, sample_rate_out=PHONE)
    with StreamEncoder(fmt, sample_rate_in=SR, sample_rate_out=PHONE) as encoder:
        assert encoder.content_type == FORMATS[fmt].content_type
        step = SR // 5
        pieces = [encoder.feed(audio[i : i + step]) for i in range(0, audio.size, step)]
        tail = encoder.close()
    assert sum(len(piece) for piece in pieces) > 0.8 * len(whole)  # it streams
    assert b"".join(pieces) + tail == whole


@pytest.mark.parametrize("fmt", ["ulaw", "alaw"])
def test_stored_file_is_the_same_raw_bytes(fmt, tmp_path):
    audio = _sine(1.0, rate=16_000)  # e.g. the toy engine's rate
    raw = tmp_path / "audio.f32"
    raw.write_bytes(audio.tobytes())
    out = tmp_path / f"audio.{FORMATS[fmt].extension}"
    encode_raw_file(raw, out, sample_rate_in=16_000, fmt=fmt, sample_rate_out=PHONE)
    data = out.read_bytes()
    assert data == encode(audio, sample_rate_in=16_000, fmt=fmt, sample_rate_out=PHONE)
    assert _decode(data, fmt).size == PHONE


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"fmt": "ulaw", "sample_rate_out": 16_000},
            "ulaw does not support 16000 Hz. Choose one of: 8000.",
        ),
        ({"fmt": "alaw"}, "alaw does not support 24000 Hz"),  # no silent resampling default
        ({"fmt": "ulaw", "sample_rate_out": PHONE, "bitrate": "64k"}, "no bitrate option"),
    ],
)
def test_other_rates_and_bitrates_are_refused(options, message):
    with pytest.raises(EncodingError, match=message):
        check_options(sample_rate_in=SR, **options)


@pytest.mark.parametrize("fmt", ["ulaw", "alaw"])
def test_a_job_without_a_rate_gets_8_khz(fmt):
    # What the native API and the dashboard use when no sample_rate is given.
    assert default_sample_rate(SimpleNamespace(sample_rate=SR), fmt) == PHONE
    assert default_sample_rate(SimpleNamespace(sample_rate=16_000), fmt) == PHONE
