"""Clean a decoded sample and tell the person how good it is.

`clean` finds speech with silero-vad, refuses too little of it, trims and squeezes silences,
optionally reduces stationary noise, normalises loudness (pyloudnorm, ITU-R BS.1770) behind a
peak limiter, and returns a `QualityReport` measured on the audio *before* any of that.
Pure functions, no Django; models load once per process.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from voices.audio.probe import IntakeError, ProbeResult

VAD_RATE = 16_000
RECOMMENDED_SPEECH_S = 10.0
KEEP_PAUSE_S = 0.6  # internal silences up to this stay as they are (natural pauses)...
SQUEEZED_PAUSE_S = 0.3  # ...longer ones are cut down to this; also the lead-in and tail
FADE_S = 0.01  # a short fade at every cut, so joins do not click
PEAK_CEILING_DB = -1.0  # the limiter's ceiling: headroom for lossy re-encoding downstream
MAX_GAIN_DB = 40.0  # never amplify more than this: beyond it we would only amplify noise
FRAME_S = 0.02
CLIP_LEVEL = 0.999
FLOOR_DB = -120.0  # what digital silence reads as, instead of -inf
# Advice thresholds.
QUIET_LUFS = -35.0
CLIPPING_RATIO = 0.001
NOISY_SNR_DB = 20.0
REPORTED_REMOVAL_S = 1.0

_vad_lock = threading.Lock()  # the silero model keeps state between chunks: one caller at a time


@dataclass
class QualityReport:
    """What the sample was like before cleaning, what was done, and what to do better.

    Levels are in dBFS / LUFS; None where a level is undefined (digital silence). `advice` holds
    sentences a person can act on; `ok` is False when any of them is a quality problem (not
    merely a note such as "long silences were removed").
    """

    duration_seconds: float
    speech_seconds: float
    speech_ratio: float
    clipping_ratio: float
    noise_floor_db: float | None
    snr_db: float | None
    loudness_lufs: float | None
    peak_dbfs: float | None
    sample_rate_in: int
    channels_in: int
    codec_in: str
    clean_seconds: float = 0.0
    output_lufs: float | None = None
    denoised: bool = False
    advice: list[str] = field(default_factory=list)
    ok: bool = True

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (no NaN or infinity)."""
        return asdict(self)


@dataclass(frozen=True)
class _Levels:
    clipping_ratio: float
    noise_floor_db: float | None
    snr_db: float | None
    loudness_lufs: float | None
    peak_dbfs: float | None


def clean(
    wav_path: Path | str,
    out_path: Path | str,
    *,
    min_speech_seconds: float = 6.0,
    target_lufs: float = -23.0,
    denoise: bool = False,
    source: ProbeResult | None = None,
) -> QualityReport:
    """Write a cleaned copy of a decoded mono WAV to out_path and report on the original.

    Raises IntakeError("too_little_speech") when silero-vad finds less than min_speech_seconds.
    `source` (the upload's ProbeResult) fills in the *_in fields; without it they describe
    wav_path. The output has the input's sample rate, 16-bit PCM, integrated loudness at
    target_lufs (unless that needs more than +40 dB) and peaks at or below -1 dBFS.
    """
    audio, rate = _read_mono(wav_path)
    segments = detect_speech(audio, rate)
    speech_s = sum(end - start for start, end in segments) / rate
    if speech_s < min_speech_seconds:
        raise IntakeError("too_little_speech", _too_little_message(speech_s, min_speech_seconds))
    levels = measure_levels(audio, rate, segments)
    work = _reduce_noise(audio, rate, segments) if denoise else audio
    edited = squeeze_silences(work, rate, segments)
    normalised = normalise(edited, rate, target_lufs=target_lufs)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out_path), normalised, rate, subtype="PCM_16", format="WAV")
    duration = audio.size / rate
    report = QualityReport(
        duration_seconds=round(duration, 3),
        speech_seconds=round(speech_s, 3),
        speech_ratio=round(speech_s / duration, 4),
        **asdict(levels),
        sample_rate_in=source.sample_rate if source else rate,
        channels_in=source.channels if source else 1,
        codec_in=source.codec if source else "pcm_s16le",
        clean_seconds=round(edited.size / rate, 3),
        output_lufs=_rounded(_loudness(normalised, rate)),
        denoised=denoise,
    )
    report.advice, report.ok = advise(report)
    return report


def _too_little_message(found: float, minimum: float) -> str:
    ask = max(RECOMMENDED_SPEECH_S, minimum)
    return (
        f"We found {found:.1f} s of speech; record at least {ask:g} s of clear speech "
        f"({minimum:g} s is the minimum)."
    )


def _read_mono(path: Path | str) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.mean(axis=1)), int(rate)


@lru_cache(maxsize=1)
def _vad_model():
    # Imported here: torch is heavy, and only the audio worker needs it. The weights ship inside
    # the silero-vad wheel (TorchScript), so nothing is downloaded.
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=False)


def detect_speech(audio: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """Speech segments as (start, end) sample indices at `rate`, found by silero-vad."""
    import torch
    from silero_vad import get_speech_timestamps

    if audio.size == 0:
        return []
    factor = gcd(VAD_RATE, rate)
    at_16k = resample_poly(audio, VAD_RATE // factor, rate // factor).astype(np.float32)
    with _vad_lock, torch.inference_mode():
        stamps = get_speech_timestamps(
            torch.from_numpy(at_16k), _vad_model(), sampling_rate=VAD_RATE
        )
    scale = rate / VAD_RATE
    return [(int(s["start"] * scale), min(audio.size, int(s["end"] * scale))) for s in stamps]


def _db(power: float) -> float:
    return max(FLOOR_DB, 10 * math.log10(power)) if power > 0 else FLOOR_DB


def _rounded(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _loudness(audio: np.ndarray, rate: int) -> float:
    import pyloudnorm

    if audio.size < int(0.4 * rate):  # BS.1770 needs one 400 ms block
        return -math.inf
    return float(pyloudnorm.Meter(rate).integrated_loudness(audio.astype(np.float64)))


def _speech_mask(size: int, rate: int, segments: list[tuple[int, int]], *, margin_s: float):
    mask = np.zeros(size, dtype=bool)
    margin = int(margin_s * rate)
    for start, end in segments:
        mask[max(0, start - margin) : end + margin] = True
    return mask


def measure_levels(audio: np.ndarray, rate: int, segments: list[tuple[int, int]]) -> _Levels:
    """Clipping, noise floor, SNR, loudness and peak of the original audio."""
    frame = max(1, int(FRAME_S * rate))
    count = audio.size // frame
    frames = audio[: count * frame].reshape(count, frame).astype(np.float64)
    power = (frames**2).mean(axis=1)
    speech = _speech_mask(audio.size, rate, segments, margin_s=0.0)
    near_speech = _speech_mask(audio.size, rate, segments, margin_s=0.1)
    speech_frames = speech[: count * frame].reshape(count, frame).any(axis=1)
    quiet_frames = ~near_speech[: count * frame].reshape(count, frame).any(axis=1)
    if quiet_frames.sum() * FRAME_S >= 0.5:
        noise_db = _db(float(np.median(power[quiet_frames])))
    else:
        # Speech from end to end: the quietest frames (gaps between words) stand in for noise.
        noise_db = _db(float(np.percentile(power, 10))) if count else FLOOR_DB
    speech_db = _db(float(power[speech_frames].mean())) if speech_frames.any() else None
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return _Levels(
        clipping_ratio=round(float(np.mean(np.abs(audio) >= CLIP_LEVEL)), 6),
        noise_floor_db=_rounded(noise_db),
        snr_db=_rounded(speech_db - noise_db) if speech_db is not None else None,
        loudness_lufs=_rounded(_loudness(audio, rate)),
        peak_dbfs=_rounded(20 * math.log10(peak)) if peak > 0 else None,
    )


def squeeze_silences(audio: np.ndarray, rate: int, segments: list[tuple[int, int]]) -> np.ndarray:
    """Trim the lead-in and tail and shorten long pauses to SQUEEZED_PAUSE_S.

    Pauses up to KEEP_PAUSE_S are part of how a person speaks (and of what the clone learns);
    longer ones only waste conditioning time.
    """
    if not segments:
        return audio[:0]
    half = int(SQUEEZED_PAUSE_S / 2 * rate)
    keep = int(KEEP_PAUSE_S * rate)
    pieces: list[list[int]] = []
    for start, end in segments:
        if pieces and start - pieces[-1][1] <= keep:
            pieces[-1][1] = end
        else:
            pieces.append([start, end])
    fade = int(FADE_S * rate)
    out = []
    for start, end in pieces:
        piece = audio[max(0, start - half) : min(audio.size, end + half)].copy()
        ramp = np.linspace(0.0, 1.0, min(fade, piece.size // 2), dtype=piece.dtype)
        if ramp.size:
            piece[: ramp.size] *= ramp
            piece[-ramp.size :] *= ramp[::-1]
        out.append(piece)
    return np.concatenate(out)


def limit_peaks(audio: np.ndarray, rate: int, *, ceiling_db: float = PEAK_CEILING_DB):
    """Brick-wall peak limiter: no sample above the ceiling, gain changes smoothed over ~10 ms.

    The gain needed at each sample is spread by a minimum filter twice as wide as the smoothing
    window, so the smoothed gain is still at or below what every sample needs.
    """
    ceiling = 10 ** (ceiling_db / 20)
    magnitude = np.abs(audio)
    if magnitude.size == 0 or magnitude.max() <= ceiling:
        return audio
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, 1e-12))
    window = max(1, int(0.01 * rate))
    gain = uniform_filter1d(minimum_filter1d(needed, size=2 * window + 1), size=window)
    # The clip only mops up floating-point rounding of the filter above.
    return np.clip(audio * gain, -ceiling, ceiling).astype(audio.dtype)


def normalise(audio: np.ndarray, rate: int, *, target_lufs: float) -> np.ndarray:
    """Gain to target integrated loudness (at most +40 dB), then the peak limiter."""
    measured = _loudness(audio, rate)
    if not math.isfinite(measured):
        return limit_peaks(audio, rate)
    gain_db = min(MAX_GAIN_DB, target_lufs - measured)
    return limit_peaks(audio * np.float32(10 ** (gain_db / 20)), rate)


def _reduce_noise(audio: np.ndarray, rate: int, segments: list[tuple[int, int]]) -> np.ndarray:
    # noisereduce's stationary spectral gate, with the noise profile taken from the non-speech
    # parts when there are enough of them (else it estimates the profile from the whole clip).
    import noisereduce

    quiet = ~_speech_mask(audio.size, rate, segments, margin_s=0.1)
    noise = audio[quiet] if quiet.sum() >= rate // 2 else None
    cleaned = noisereduce.reduce_noise(
        y=audio, sr=rate, y_noise=noise, stationary=True, prop_decrease=0.8, n_jobs=1
    )
    return np.asarray(cleaned, dtype=np.float32)


def advise(report: QualityReport) -> tuple[list[str], bool]:
    """Sentences a person can act on, and whether the sample is free of quality problems."""
    problems = []
    if report.loudness_lufs is not None and report.loudness_lufs < QUIET_LUFS:
        problems.append("too quiet — move closer to the microphone or raise the input gain")
    if report.clipping_ratio >= CLIPPING_RATIO:
        share = report.clipping_ratio * 100
        problems.append(f"clipping ({share:.1f}% of samples) — lower the input gain")
    if report.snr_db is not None and report.snr_db < NOISY_SNR_DB:
        problems.append(
            f"background noise (speech only {report.snr_db:.0f} dB above it) — "
            "record in a quieter room, away from fans and traffic"
        )
    if report.speech_seconds < RECOMMENDED_SPEECH_S:
        problems.append(
            f"record at least {RECOMMENDED_SPEECH_S:g} s of speech "
            f"(we found {report.speech_seconds:.1f} s); 30 s or more gives a closer voice"
        )
    notes = []
    removed = report.duration_seconds - report.clean_seconds
    if removed >= REPORTED_REMOVAL_S:
        notes.append(f"long silences were removed ({removed:.1f} s)")
    return problems + notes, not problems
