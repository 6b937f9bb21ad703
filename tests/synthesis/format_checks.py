"""Checks on encoded audio for the format tests: FLAC's declared length, raw G.711 read back,
and the bitrate ffprobe measures (this module holds no tests)."""

from __future__ import annotations

import json
import subprocess


def streaminfo(data: bytes) -> tuple[int, int]:
    """(sample rate, total samples) from a FLAC file's STREAMINFO block (0 samples: unknown)."""
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
    packed = int.from_bytes(data[18:26], "big")  # after block sizes (4 bytes), frame sizes (6)
    return packed >> 44, packed & (2**36 - 1)


def _ffprobe(data: bytes, entries: str) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", "pipe:0"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def ffprobe_seconds(data: bytes) -> float:
    """The duration ffprobe reads from the file's header (a FLAC without a length has none)."""
    return float(_ffprobe(data, "format=duration")["format"]["duration"])


def bit_rate_and_sample_rate(data: bytes) -> tuple[int, int]:
    stream = _ffprobe(data, "stream=bit_rate,sample_rate")["streams"][0]
    return int(stream["bit_rate"]), int(stream["sample_rate"])


def g711_seconds(data: bytes, ffmpeg_format: str) -> float:
    """How long raw 8 kHz G.711 bytes play, decoded as a phone system would (mulaw or alaw)."""
    source = ["-f", ffmpeg_format, "-ar", "8000", "-ac", "1", "-i", "pipe:0"]
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", *source, "-f", "s16le", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return len(pcm) / 2 / 8000
