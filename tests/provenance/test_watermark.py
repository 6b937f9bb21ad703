"""The watermark itself (in-process; loads Perth once, ~5 s)."""

from __future__ import annotations

import numpy as np
import pytest

from provenance.hooks import mark_audio
from provenance.watermark import watermark_confidence


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> np.ndarray:
    """espeak-ng speech at 22,050 Hz."""
    import soundfile as sf

    from tests.provenance.support import espeak_wav

    audio, rate = sf.read(espeak_wav(tmp_path_factory.mktemp("speech") / "s.wav"), dtype="float32")
    assert rate == 22_050
    return audio


def _at(audio: np.ndarray, rate: int) -> np.ndarray:
    import librosa

    return librosa.resample(audio, orig_sr=22_050, target_sr=rate).astype(np.float32)


def _confidence(audio: np.ndarray, rate: int) -> float:
    import librosa

    return watermark_confidence(
        librosa.resample(audio, orig_sr=rate, target_sr=32_000), sample_rate=32_000
    )


@pytest.mark.parametrize("rate", [16_000, 22_050, 24_000])
def test_marked_audio_keeps_its_shape_and_is_detected(settings, speech, rate):
    settings.PROVENANCE_WATERMARK = True
    audio = _at(speech, rate)
    marked = mark_audio(audio, sample_rate=rate, engine="test")
    assert marked.dtype == np.float32 and marked.shape == audio.shape
    assert np.max(np.abs(marked)) <= 1.0
    assert not np.array_equal(marked, audio)
    assert _confidence(marked, rate) >= 0.9
    assert _confidence(audio, rate) < 0.5


def test_short_and_empty_pieces_pass_through(settings, speech):
    settings.PROVENANCE_WATERMARK = True
    for size in (0, 1, 50, 700):  # streamed pieces can be tiny
        piece = speech[22_050 : 22_050 + size]
        assert mark_audio(piece, sample_rate=24_000, engine="test").shape == (size,)


def test_off_for_the_whole_deployment(settings, speech):
    settings.PROVENANCE_WATERMARK = False
    audio = speech[:11_025]
    assert mark_audio(audio, sample_rate=24_000, engine="test") is audio


def test_silence_is_not_watermarked():
    assert watermark_confidence(np.zeros(32_000, dtype=np.float32), sample_rate=32_000) == 0.0
