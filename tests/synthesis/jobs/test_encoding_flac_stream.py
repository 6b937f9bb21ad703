"""FLAC over HTTP has a length: a FLAC "stream" is written whole when the audio ends, so its
STREAMINFO carries the sample count (a piped FLAC says 0: ffprobe then shows no duration and
soundfile refuses it with "array is too big")."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from synthesis.jobs import streaming
from synthesis.jobs.encoding import StreamEncoder, encode
from tests.synthesis.format_checks import ffprobe_seconds, streaminfo

SR = 24_000


def _sine(seconds, *, rate=SR):
    t = np.arange(round(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _stream(audio, *, piece_seconds=0.25, **options) -> tuple[list[bytes], bytes]:
    encoder = StreamEncoder("flac", sample_rate_in=SR, **options)
    step = round(piece_seconds * SR)
    pieces = [encoder.feed(audio[i : i + step]) for i in range(0, audio.size, step)]
    return pieces, encoder.close()


def test_streamed_flac_is_one_file_with_its_length():
    audio = _sine(1.5)
    pieces, data = _stream(audio)
    assert pieces == [b""] * len(pieces)  # nothing leaves before the length is known
    assert streaminfo(data) == (SR, 36_000)
    assert ffprobe_seconds(data) == pytest.approx(1.5, abs=0.001)
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert (samples.size, rate) == (36_000, SR)
    # Lossless, and the same file the whole-file encoder writes.
    assert data == encode(audio, sample_rate_in=SR, fmt="flac")
    np.testing.assert_allclose(samples, audio, atol=1 / 32768)


def test_resampled_flac_stream_declares_the_samples_it_holds():
    _, data = _stream(_sine(1.5), sample_rate_out=16_000)
    rate, total = streaminfo(data)
    samples, read_rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert (rate, read_rate) == (16_000, 16_000)
    assert total == samples.size == pytest.approx(24_000, abs=16)


def test_abort_removes_the_held_audio():
    encoder = StreamEncoder("flac", sample_rate_in=SR)
    encoder.feed(_sine(0.5))
    held = Path(encoder._ffmpeg._dir.name)
    assert (held / "audio.f32").stat().st_size == 0.5 * SR * 4
    encoder.abort()
    assert not held.exists()
    assert encoder.close() == b""


def test_close_removes_the_held_audio_too():
    encoder = StreamEncoder("flac", sample_rate_in=SR)
    encoder.feed(_sine(0.2))
    held = Path(encoder._ffmpeg._dir.name)
    assert encoder.close()[:4] == b"fLaC"
    assert not held.exists()


def test_stream_encoded_answers_flac_once_with_the_length(settings, tmp_path, monkeypatch):
    # What the HTTP routes relay: the worker's float pieces through the stream channel.
    audio = _sine(1.0)
    channel = streaming.FileChannel("flac-job")
    channel.dir = tmp_path / "channel"
    for start in range(0, audio.size, SR // 10):
        channel.push(audio[start : start + SR // 10].tobytes())
    channel.end()
    monkeypatch.setattr(streaming, "channel_for", lambda code: channel)
    answered = list(streaming.stream_encoded("flac-job", fmt="flac", sample_rate_in=SR))
    assert len(answered) == 1
    assert streaminfo(answered[0]) == (SR, SR)
    assert not channel.dir.exists()  # the channel was read to its end and removed
