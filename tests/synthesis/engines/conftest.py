"""Fixtures for the engine tests: a tiny random-weight XTTS checkpoint and a reference voice.

Nothing here touches Django or a database; nothing is downloaded. The checkpoint is written
once per session in the real on-disk layout and loaded through coqui's own code path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def xtts_tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """config.json + model.pth + vocab.json of a 2-layer, 64-wide XTTS (seed 0)."""
    from synthesis.engines.xtts.checkpoint import write_checkpoint

    return write_checkpoint(size="tiny", out_dir=tmp_path_factory.mktemp("xtts-tiny"), seed=0)


def write_reference_wav(path: Path, *, seconds: float, sample_rate: int = 22050, seed: int = 0):
    """A voice-like synthetic signal: a gliding harmonic tone with a syllable envelope + noise."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    pitch = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)  # slow intonation
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2  # ~6 syllables a second
    signal = 0.2 * voice * envelope + 0.01 * rng.standard_normal(t.size)
    sf.write(path, signal.astype(np.float32), sample_rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def reference_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-second 22.05 kHz mono reference sample."""
    return write_reference_wav(tmp_path_factory.mktemp("voice") / "ref.wav", seconds=5.0)


@pytest.fixture(scope="session")
def second_reference_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A different 4-second voice at 44.1 kHz (exercises resampling)."""
    path = tmp_path_factory.mktemp("voice2") / "ref2.wav"
    return write_reference_wav(path, seconds=4.0, sample_rate=44100, seed=1)


@pytest.fixture(scope="session")
def xtts_engine(xtts_tiny_checkpoint: Path):
    """A loaded XttsEngine on the CPU (shared: loading costs seconds)."""
    from synthesis.engines.xtts.engine import XttsEngine

    engine = XttsEngine(xtts_tiny_checkpoint, device="cpu", max_batch_size=8)
    engine.load()
    return engine


@pytest.fixture(scope="session")
def voice(xtts_engine, reference_wav: Path):
    """The conditioning of the reference voice."""
    return xtts_engine.compute_conditioning(wav_paths=[reference_wav])
