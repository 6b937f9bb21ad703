"""Audio helpers for tests: synthetic reference voices and ffprobe checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf


def write_reference_wav(
    path: Path,
    *,
    seconds: float = 6.0,
    sample_rate: int = 22_050,
    pitch: float = 140.0,
    seed: int = 0,
) -> Path:
    """A voice-like signal: a gliding harmonic tone with syllable-rate amplitude and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = pitch * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t) ** 2
    signal = 0.25 * voice * envelope + 0.01 * rng.standard_normal(t.size)
    sf.write(path, signal.astype(np.float32), sample_rate, subtype="PCM_16")
    return path


def ffprobe(path_or_bytes, *, fmt_hint: str | None = None) -> dict:
    """codec, sample rate, channels and duration of an audio file, measured by ffprobe."""
    args = [
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "stream=codec_name,sample_rate,channels:format=duration",
        "-of",
        "json",
    ]
    if isinstance(path_or_bytes, bytes):
        if fmt_hint:
            args += ["-f", fmt_hint]
        args.append("pipe:0")
        result = subprocess.run(
            args, input=path_or_bytes, capture_output=True, check=True, timeout=60
        )
    else:
        result = subprocess.run(
            [*args, str(path_or_bytes)], capture_output=True, check=True, timeout=60
        )
    info = json.loads(result.stdout)
    stream = info["streams"][0]
    return {
        "codec": stream["codec_name"],
        "sample_rate": int(stream["sample_rate"]),
        "channels": int(stream["channels"]),
        "duration": float(info.get("format", {}).get("duration") or 0.0),
    }
