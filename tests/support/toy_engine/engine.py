"""The toy engine itself: numpy only, loads instantly, deterministic output."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from synthesis.engines.base import Conditioning, Engine, EngineStatus
from tests.support.toy_engine import FACTS

SECONDS_PER_CHARACTER = 0.05


class ToyEngine(Engine):
    name = FACTS.name

    def __init__(self) -> None:
        self.loaded = False

    @property
    def sample_rate(self) -> int:
        return FACTS.sample_rate

    @property
    def languages(self) -> list[str]:
        return list(FACTS.languages)

    def char_limit(self, language: str) -> int:
        return FACTS.char_limit(language)

    def load(self) -> None:
        self.loaded = True

    def status(self) -> EngineStatus:
        return EngineStatus(self.name, "toy-1.0", "cpu", 0.0, self.loaded)

    def compute_conditioning(self, *, wav_paths: list[Path]) -> Conditioning:
        levels = []
        for path in wav_paths:
            audio, _ = sf.read(str(path), dtype="float32")
            levels.append(float(np.sqrt(np.mean(np.square(audio)))) if audio.size else 0.0)
        return Conditioning(
            engine=self.name,
            engine_version="toy-1.0",
            params={"samples": len(wav_paths)},
            arrays={"level": np.array([max(levels, default=0.0)], dtype=np.float32)},
        )

    def _tone(self, text: str, params) -> np.ndarray:
        params = FACTS.params_complete(params)
        seconds = len(text) * SECONDS_PER_CHARACTER / params.speed
        t = np.arange(int(seconds * self.sample_rate)) / self.sample_rate
        return (0.5 * np.sin(2 * np.pi * params.pitch_hz * t)).astype(np.float32)

    def synthesize(self, *, texts, language, conditioning, params) -> Iterator[np.ndarray]:
        for text in texts:
            yield self._tone(text, params)

    def stream(self, *, text, language, conditioning, params) -> Iterator[np.ndarray]:
        tone = self._tone(text, params)
        step = self.sample_rate // 10
        for start in range(0, tone.size, step):
            yield tone[start : start + step]
