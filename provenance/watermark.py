"""The Perth watermark (resemble-perth's implicit watermarker), applied and read in workers.

The watermarker is loaded once per worker process, on first use, under a lock (the engine-load
thread and a task may ask at the same moment). Perth's package sets `PerthImplicitWatermarker`
to None when one of its imports fails (its wheel declares no dependencies: it needs torch,
torchaudio, librosa, pyyaml and setuptools' pkg_resources), so the implementation module is
imported here directly: the real error is what the worker reports.

Perth works at 32 kHz: audio at another rate is resampled there and back, as Perth's own
`apply_watermark` does. Its STFT round trip drops the last partial hop, so a little silence is
added before marking and cut after: the output has exactly the input's length.
"""

from __future__ import annotations

import contextlib
import io
import threading

import numpy as np

# Perth's STFT needs more than half a 2048-point window at 32 kHz; shorter pieces are padded.
_MIN_SECONDS = 0.1
# Silence added at the end before marking, more than one 10 ms hop at any rate.
_TAIL_SECONDS = 0.02

INSTALL_FIX = (
    "Install the worker requirements (pip install -r requirements/worker.txt: resemble-perth "
    "with torch, torchaudio, librosa, pyyaml and setuptools), or set PROVENANCE_WATERMARK=false "
    "to turn the watermark off for the whole deployment."
)


class WatermarkUnavailable(Exception):
    """The watermarker cannot load. `reason` says what is wrong, `fix` what to do."""

    def __init__(self, reason: str, *, fix: str = INSTALL_FIX) -> None:
        super().__init__(f"{reason} Fix: {fix}")
        self.reason = reason
        self.fix = fix


_lock = threading.Lock()
_instance = None


def watermarker():
    """The process's PerthImplicitWatermarker (loaded on first call). Raises
    WatermarkUnavailable; a failed load is tried again on the next call."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = _load()
    return _instance


def _load():
    try:
        from perth.perth_net.perth_net_implicit.perth_watermarker import (
            PerthImplicitWatermarker,
        )
    except Exception as exc:  # ImportError, and pkg_resources' own errors
        raise WatermarkUnavailable(
            f"The Perth watermarker cannot be imported ({type(exc).__name__}: {exc})."
        ) from exc
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "loaded PerthNet ..."
            return PerthImplicitWatermarker(device="cpu")
    except Exception as exc:
        raise WatermarkUnavailable(
            f"The Perth watermarker's weights did not load ({type(exc).__name__}: {exc})."
        ) from exc


def watermark_check() -> None:
    """Load the watermarker and mark a short tone, end to end. Raises WatermarkUnavailable."""
    tone = (0.1 * np.sin(np.linspace(0, 2 * np.pi * 220, 24_000))).astype(np.float32)
    try:
        watermark_apply(tone, sample_rate=24_000)
    except WatermarkUnavailable:
        raise
    except Exception as exc:  # e.g. librosa present but broken
        raise WatermarkUnavailable(
            f"The Perth watermarker failed on a test tone ({type(exc).__name__}: {exc})."
        ) from exc


def watermark_apply(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """`audio` (mono float32) with the watermark in it: same length, same rate, in [-1, 1]."""
    import torch

    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    length = audio.size
    if length == 0:
        return audio
    wm = watermarker()
    total = max(length + int(_TAIL_SECONDS * sample_rate), int(_MIN_SECONDS * sample_rate))
    padded = np.pad(audio, (0, total - length))
    with torch.inference_mode():
        marked = wm.apply_watermark(padded, sample_rate=sample_rate)
    marked = np.asarray(marked, dtype=np.float32).reshape(-1)[:length]
    if marked.size < length:
        marked = np.concatenate([marked, audio[marked.size :]])
    return np.clip(marked, -1.0, 1.0)


def watermark_confidence(audio: np.ndarray, *, sample_rate: int) -> float:
    """Perth's confidence (0..1) that `audio` (mono float32) carries the watermark."""
    import torch

    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    minimum = int(_MIN_SECONDS * sample_rate)
    if audio.size < minimum:
        audio = np.pad(audio, (0, minimum - audio.size))
    if not np.any(audio):
        return 0.0  # digital silence carries nothing (Perth's mask would divide by zero)
    with torch.inference_mode():
        value = watermarker().get_watermark(audio, sample_rate=sample_rate, round=False)
    confidence = float(np.mean(value))
    return 0.0 if not np.isfinite(confidence) else min(max(confidence, 0.0), 1.0)


def perth_sample_rate() -> int:
    """The rate Perth works at (decode at this rate to avoid a resample)."""
    return int(watermarker().perth_net.hp.sample_rate)
