"""Audio encoding (synthesis/encoding.py), checked with the real ffmpeg/ffprobe. No Django."""

import io
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from synthesis.jobs import encoding
from synthesis.jobs.encoding import (
    FORMATS,
    EncodingError,
    StreamEncoder,
    check_options,
    encode,
    ffmpeg_command,
)

SR = 24_000
CODECS = {"mp3": "mp3", "opus": "opus", "aac": "aac", "flac": "flac", "wav": "pcm_s16le"}
ALL_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
DECODE = ["ffmpeg", "-nostdin", "-v", "error"]


@pytest.fixture(autouse=True, scope="module")
def _ffmpeg_installed():
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.fail("ffmpeg and ffprobe are required (Debian: apt-get install ffmpeg)")


def _sine(seconds=2.0, *, freq=440.0, amplitude=0.4):
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _probe(data, tmp_path, fmt):
    path = tmp_path / f"probe.{FORMATS[fmt].extension}"
    path.write_bytes(data)
    entries = "stream=codec_name,sample_rate,channels,bit_rate:format=duration"
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    info = json.loads(result.stdout)
    stream = info["streams"][0]
    return {
        "codec": stream["codec_name"],
        "sample_rate": int(stream["sample_rate"]),
        "channels": int(stream["channels"]),
        "duration": float(info["format"]["duration"]),
    }


def _decode(data, fmt, *, sample_rate):
    """Decode with ffmpeg to float samples at ``sample_rate`` (pcm needs it to be read).

    From a file, not a pipe: ffmpeg applies an mp3's gapless trimming only to seekable input.
    """
    source = ["-f", "s16le", "-ar", str(sample_rate), "-ac", "1"] if fmt == "pcm" else []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"decode.{FORMATS[fmt].extension}"
        path.write_bytes(data)
        result = subprocess.run(
            [
                *DECODE,
                *source,
                "-i",
                str(path),
                "-f",
                "f32le",
                "-ac",
                "1",
                "-ar",
                str(sample_rate),
                "pipe:1",
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
    return np.frombuffer(result.stdout, "<f4")


def _dominant_frequency(samples, sample_rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return np.argmax(spectrum) * sample_rate / samples.size


def _opus_input_rate(data):
    head = data.index(b"OpusHead")  # Ogg Opus keeps the encoder's input rate in its header
    return int.from_bytes(data[head + 12 : head + 16], "little")


def _stream(fmt, audio, *, piece_seconds=0.1, **options):
    encoder = StreamEncoder(fmt, sample_rate_in=SR, **options)
    step = round(piece_seconds * SR)
    pieces = [encoder.feed(audio[i : i + step]) for i in range(0, audio.size, step)]
    return pieces, encoder.close()


# --- formats --------------------------------------------------------------------------------------


def test_format_table():
    assert {name: (f.content_type, f.extension) for name, f in FORMATS.items()} == {
        "mp3": ("audio/mpeg", "mp3"),
        "opus": ("audio/ogg", "opus"),
        "aac": ("audio/aac", "aac"),
        "flac": ("audio/flac", "flac"),
        "wav": ("audio/wav", "wav"),
        "pcm": ("audio/pcm", "pcm"),
        "ulaw": ("audio/basic", "ul"),
        "alaw": ("audio/x-alaw-basic", "al"),
    }


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav"])
def test_every_format_is_what_ffprobe_says(fmt, tmp_path):
    audio = _sine(2.0)
    data = encode(audio, sample_rate_in=SR, fmt=fmt)
    info = _probe(data, tmp_path, fmt)
    assert info["codec"] == CODECS[fmt]
    assert info["channels"] == 1
    # ffprobe reports Opus at its 48 kHz decoding rate; the header keeps the real input rate.
    assert info["sample_rate"] == (48_000 if fmt == "opus" else SR)
    if fmt == "opus":
        assert _opus_input_rate(data) == SR
    assert 1.9 <= info["duration"] <= 2.15  # mp3/aac carry encoder delay and padding
    decoded = _decode(data, fmt, sample_rate=SR)
    assert 1.99 <= decoded.size / SR <= 2.1
    assert _dominant_frequency(decoded, SR) == pytest.approx(440, abs=2)


def test_mp3_file_is_gapless_and_flac_is_lossless():
    audio = _sine(2.0)
    assert (
        _decode(encode(audio, sample_rate_in=SR, fmt="mp3"), "mp3", sample_rate=SR).size == 48_000
    )
    flac = _decode(encode(audio, sample_rate_in=SR, fmt="flac"), "flac", sample_rate=SR)
    pcm = np.frombuffer(encode(audio, sample_rate_in=SR, fmt="pcm"), "<i2") / 32768.0
    np.testing.assert_array_equal(flac, pcm.astype(np.float32))


def test_pcm_is_raw_s16le_of_exactly_two_bytes_per_sample():
    audio = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.7, -3.0], np.float32)
    data = encode(audio, sample_rate_in=SR, fmt="pcm")
    assert len(data) == audio.size * 2
    samples = np.frombuffer(data, "<i2")
    assert samples.tolist() == [0, 16384, -16384, 32767, -32768, 32767, -32768]  # clipped
    assert len(encode(_sine(1.37), sample_rate_in=SR, fmt="pcm")) == round(1.37 * SR) * 2


def test_wav_header_is_exact_for_a_whole_file():
    audio = _sine(0.5)
    data = encode(audio, sample_rate_in=SR, fmt="wav")
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SR)
        assert wav.getnframes() == audio.size
    assert data[44:] == encode(audio, sample_rate_in=SR, fmt="pcm")


@pytest.mark.parametrize(
    ("fmt", "rate"),
    [
        ("mp3", 16_000),
        ("mp3", 44_100),
        ("mp3", 48_000),
        ("aac", 16_000),
        ("aac", 44_100),
        ("aac", 48_000),
        ("opus", 16_000),
        ("opus", 48_000),
        ("flac", 16_000),
        ("flac", 44_100),
        ("flac", 48_000),
        ("wav", 16_000),
        ("wav", 44_100),
        ("wav", 48_000),
        ("pcm", 16_000),
        ("pcm", 44_100),
    ],
)
def test_other_sample_rates(fmt, rate, tmp_path):
    data = encode(_sine(2.0), sample_rate_in=SR, fmt=fmt, sample_rate_out=rate)
    if fmt == "pcm":
        assert len(data) == 2 * 2 * rate
    else:
        info = _probe(data, tmp_path, fmt)
        reported = _opus_input_rate(data) if fmt == "opus" else info["sample_rate"]
        assert (reported, info["channels"]) == (rate, 1)
        assert 1.9 <= info["duration"] <= 2.15
    decoded = _decode(data, fmt, sample_rate=rate)
    assert _dominant_frequency(decoded, rate) == pytest.approx(440, abs=2)


def test_bitrate_option(tmp_path):
    low = encode(_sine(4.0), sample_rate_in=SR, fmt="mp3", bitrate="32k")
    high = encode(_sine(4.0), sample_rate_in=SR, fmt="mp3", bitrate=128_000)
    assert len(high) > 3 * len(low)
    for fmt, bitrate in [("aac", "96k"), ("opus", "24k")]:
        assert _probe(
            encode(_sine(1.0), sample_rate_in=SR, fmt=fmt, bitrate=bitrate), tmp_path, fmt
        )
    assert check_options(fmt="mp3").bitrate == 64_000


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"fmt": "ogg"},
            "Unknown audio format 'ogg'. Choose one of: mp3, opus, aac, flac, wav, pcm",
        ),
        ({"fmt": "opus", "sample_rate_out": 44_100}, "opus does not support 44100 Hz"),
        ({"fmt": "opus", "sample_rate_out": 22_050}, "8000, 12000, 16000, 24000, 48000"),
        ({"fmt": "mp3", "sample_rate_out": 96_000}, "mp3 does not support 96000 Hz"),
        ({"fmt": "wav", "sample_rate_out": 1000}, "out of range"),
        ({"fmt": "wav", "sample_rate_in": 0}, "Input sample rate 0 Hz is out of range"),
        ({"fmt": "wav", "sample_rate_out": 16000.0}, "whole number"),
        ({"fmt": "wav", "bitrate": "64k"}, "wav format has no bitrate option"),
        ({"fmt": "mp3", "bitrate": "fast"}, "not a number like 64000"),
        ({"fmt": "mp3", "bitrate": 64}, "did you mean '64k'"),
        ({"fmt": "mp3", "bitrate": "320k"}, "mp3 at 24000 Hz supports bitrates from 8k to 160k"),
        ({"fmt": "mp3", "bitrate": "128k", "sample_rate_out": 8000}, "from 8k to 64k"),
        ({"fmt": "opus", "bitrate": "512k"}, "from 6k to 256k"),
        ({"fmt": "aac", "bitrate": "320k", "sample_rate_out": 8000}, "from 8k to 48k"),
    ],
)
def test_bad_options_are_refused_clearly(options, message):
    with pytest.raises(EncodingError, match=message.replace("(", r"\(")):
        check_options(**options)
    with pytest.raises(EncodingError, match=message.replace("(", r"\(")):
        encode(_sine(0.1), **{"sample_rate_in": SR, **options})


def test_format_names_are_case_insensitive():
    assert check_options(fmt="MP3").format is FORMATS["mp3"]


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros((100, 2), np.float32), "mono"),
        (np.array([0.0, np.nan], np.float32), "NaN"),
        (np.array([0.0, np.inf]), "NaN or infinite"),
        (np.zeros(100, np.int16), "float samples"),
        (np.zeros(0, np.float32), "no audio"),
        ("not audio", "float samples"),
    ],
)
def test_bad_audio_is_refused(audio, message):
    with pytest.raises(EncodingError, match=message):
        encode(audio, sample_rate_in=SR, fmt="mp3")


def test_python_float_lists_are_fine():
    assert len(encode([0.0, 0.25, -0.25], sample_rate_in=SR, fmt="pcm")) == 6


def test_ffmpeg_is_run_restricted():
    options = check_options(fmt="mp3")
    command = ffmpeg_command(options, output="pipe:1", streaming=True)
    assert command[:5] == ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"]
    assert command.count("-protocol_whitelist") == 2  # input and output both restricted
    assert command[command.index("-i") + 1] == "pipe:0"


def test_output_protocol_whitelist_is_enforced(tmp_path):
    # ffmpeg honours the output whitelist: writing a file where only pipes are allowed fails.
    options = check_options(fmt="flac")
    command = ffmpeg_command(options, output=f"file:{tmp_path / 'x.flac'}", streaming=False)
    output_whitelist = len(command) - 1 - command[::-1].index("-protocol_whitelist") + 1
    assert command[output_whitelist] == "file"
    command[output_whitelist] = "pipe"
    result = subprocess.run(command, input=_sine(0.1).tobytes(), capture_output=True, timeout=60)
    assert result.returncode != 0 and b"not on whitelist" in result.stderr


def _fake_ffmpeg(tmp_path, body):
    script = tmp_path / "fake-ffmpeg"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_missing_ffmpeg_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(encoding, "FFMPEG", "/nonexistent/ffmpeg")
    with pytest.raises(EncodingError, match="ffmpeg is not installed"):
        encode(_sine(0.1), sample_rate_in=SR, fmt="mp3")
    with pytest.raises(EncodingError, match="ffmpeg is not installed"):
        StreamEncoder("opus", sample_rate_in=SR)
    assert encode(_sine(0.1), sample_rate_in=SR, fmt="wav")  # wav/pcm need no ffmpeg


def test_ffmpeg_failure_is_reported_with_its_reason(monkeypatch, tmp_path):
    fake = _fake_ffmpeg(tmp_path, 'cat >/dev/null; echo "Encoder exploded" >&2; exit 1')
    monkeypatch.setattr(encoding, "FFMPEG", fake)
    with pytest.raises(EncodingError, match=r"Could not encode aac audio \(ffmpeg: Encoder"):
        encode(_sine(0.1), sample_rate_in=SR, fmt="aac")
    encoder = StreamEncoder("mp3", sample_rate_in=SR)
    encoder.feed(_sine(0.1))
    with pytest.raises(EncodingError, match="Encoder exploded"):
        encoder.close()


def test_stuck_ffmpeg_is_stopped(monkeypatch, tmp_path):
    monkeypatch.setattr(encoding, "FFMPEG", _fake_ffmpeg(tmp_path, "exec sleep 30"))
    with pytest.raises(EncodingError, match="took longer than 1 s"):
        encode(_sine(1.0), sample_rate_in=SR, fmt="flac", timeout=1)
    encoder = StreamEncoder("mp3", sample_rate_in=SR, stall_timeout=0.5)
    with pytest.raises(EncodingError, match="took longer"):
        encoder.feed(_sine(3.0))  # more than a pipe holds, and nobody reads it
    with pytest.raises(EncodingError, match="already closed"):
        encoder.feed(_sine(0.1))


def test_died_ffmpeg_mid_stream_is_an_encoding_error(monkeypatch, tmp_path):
    monkeypatch.setattr(encoding, "FFMPEG", _fake_ffmpeg(tmp_path, "echo bad input >&2; exit 3"))
    encoder = StreamEncoder("opus", sample_rate_in=SR)
    with pytest.raises(EncodingError, match="Could not encode opus audio"):
        for _ in range(50):
            encoder.feed(_sine(0.5))


# --- streaming ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_stream_decodes_to_the_same_audio_as_the_whole_file(fmt):
    audio = _sine(2.0)
    pieces, tail = _stream(fmt, audio)
    streamed = _decode(b"".join(pieces) + tail, fmt, sample_rate=SR)
    whole = _decode(encode(audio, sample_rate_in=SR, fmt=fmt), fmt, sample_rate=SR)
    # A piped mp3 has no gapless header, so its decoder keeps the encoder delay/padding.
    tolerance = 0.1 if fmt == "mp3" else 0.001
    assert abs(streamed.size - whole.size) / SR <= tolerance
    assert _dominant_frequency(streamed, SR) == pytest.approx(440, abs=2)


# FLAC is written whole at close() (its header holds the length): test_encoding_flac_stream.py.
@pytest.mark.parametrize("fmt", [fmt for fmt in ALL_FORMATS if fmt != "flac"])
def test_stream_sends_bytes_before_close(fmt):
    pieces, tail = _stream(fmt, _sine(4.0), piece_seconds=0.2)
    before_close = sum(len(piece) for piece in pieces)
    assert before_close > 0
    if fmt in {"mp3", "pcm", "wav"}:
        assert before_close > 0.8 * (before_close + len(tail))


@pytest.mark.parametrize(("fmt", "rate"), [("pcm", 16_000), ("pcm", 44_100), ("wav", 48_000)])
def test_resampled_stream_equals_the_whole_file(fmt, rate):
    audio = _sine(2.0)
    pieces, tail = _stream(fmt, audio, piece_seconds=0.125, sample_rate_out=rate)
    whole = encode(audio, sample_rate_in=SR, fmt=fmt, sample_rate_out=rate)
    streamed = b"".join(pieces) + tail
    header = 44 if fmt == "wav" else 0
    assert streamed[header:] == whole[header:]


def test_streamed_wav_has_an_open_ended_header_that_players_read():
    pieces, tail = _stream("wav", _sine(1.0))
    data = b"".join(pieces) + tail
    assert data[4:8] == b"\xff\xff\xff\xff" and data[40:44] == b"\xff\xff\xff\xff"
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert (samples.size, rate) == (SR, SR)
    assert _decode(data, "wav", sample_rate=SR).size == SR


def test_empty_stream_is_still_a_valid_file():
    assert StreamEncoder("wav", sample_rate_in=SR).close()[:4] == b"RIFF"
    assert StreamEncoder("pcm", sample_rate_in=SR).close() == b""
    encoder = StreamEncoder("flac", sample_rate_in=SR)
    assert encoder.close()[:4] == b"fLaC"


def test_stream_encoder_describes_its_output():
    with StreamEncoder("opus", sample_rate_in=SR, bitrate="24k") as encoder:
        assert (encoder.content_type, encoder.extension) == ("audio/ogg", "opus")
        assert encoder.options.bitrate == 24_000


def test_abort_and_context_exit_stop_ffmpeg():
    encoder = StreamEncoder("mp3", sample_rate_in=SR)
    process = encoder._ffmpeg._process
    encoder.feed(_sine(0.5))
    encoder.abort()
    assert process.poll() is not None
    with StreamEncoder("aac", sample_rate_in=SR) as encoder:
        process = encoder._ffmpeg._process
    assert process.poll() is not None
    assert encoder.close() == b""


def test_streaming_a_long_input_never_deadlocks():
    # 60 s fed in one call: far more than both pipes hold, so writing and reading must overlap.
    pieces, tail = _stream("flac", _sine(60.0), piece_seconds=60.0)
    assert _decode(b"".join(pieces) + tail, "flac", sample_rate=SR).size == 60 * SR


def test_modules_import_neither_django_nor_torch():
    # The web process and these tests import them bare; torch would cost seconds and GBs.
    code = (
        "import sys, synthesis.jobs.text, synthesis.jobs.encoding, synthesis.jobs.joining;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'torch'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[3],  # the repository root
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]"
