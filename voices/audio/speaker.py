"""Speaker verification: is this new sample the same voice as the samples we already hold?

Resemblyzer's GE2E voice encoder (weights ship inside the wheel; nothing is downloaded) turns
an utterance into a 256-dimensional, L2-normalised embedding; voices are compared by cosine
similarity. The encoder loads once per process, on CPU. Pure functions, no Django.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

_encoder_lock = threading.Lock()


@lru_cache(maxsize=1)
def _encoder():
    # Imported here: torch is heavy and only the audio worker needs it.
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cpu", verbose=False)


def embed(wav_path: Path | str) -> np.ndarray:
    """The voice embedding (256 float32, unit length) of one audio file soundfile can read.

    Raises ValueError when the file holds too little voiced audio to embed.
    """
    from resemblyzer import preprocess_wav

    audio, rate = sf.read(str(wav_path), dtype="float32", always_2d=True)
    # preprocess_wav resamples to 16 kHz, normalises volume and drops long silences.
    wav = preprocess_wav(audio.mean(axis=1), source_sr=rate)
    if wav.size < 16_000 // 2:
        raise ValueError(f"{Path(wav_path).name}: too little voiced audio to embed")
    with _encoder_lock:
        vector = _encoder().embed_utterance(wav)
    return np.asarray(vector, dtype=np.float32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings, in [-1, 1] (same voice is typically well above 0.75)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    if denominator == 0.0:
        raise ValueError("cannot compare a zero embedding")
    return float(np.dot(a, b) / denominator)


def verify(
    reference_paths: Sequence[Path | str], candidate_path: Path | str, *, threshold: float
) -> tuple[bool, float]:
    """Whether the candidate sounds like the references: (score >= threshold, score).

    The references are averaged into one speaker embedding (resemblyzer's embed_speaker does the
    same), so several short samples of a voice make a steadier reference than one.
    """
    if not reference_paths:
        raise ValueError("verify needs at least one reference sample")
    references = np.stack([embed(path) for path in reference_paths])
    centroid = references.mean(axis=0)
    score = similarity(centroid, embed(candidate_path))
    return score >= threshold, score
