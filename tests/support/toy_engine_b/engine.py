"""The second toy engine: numpy only, loads instantly, deterministic square waves."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from synthesis.engines.base import Conditioning, Engine, EngineStatus
from tests.support.toy_engine_b import FACTS

SECONDS_PER_CHARACTER = 0.04
# How many conditionings this worker process computed (a stored one is never recomputed).
_computed = itertools.count(1)


class ToyEngineB(Engine):
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
        return EngineStatus(self.name, "toyb-1.0", "cpu", 0.0, self.loaded)

    def compute_conditioning(self, *, wav_paths: list[Path]) -> Conditioning:
        peaks = []
        for path in wav_paths:
            audio, _ = sf.read(str(path), dtype="float32")
            peaks.append(float(np.max(np.abs(audio))) if audio.size else 0.0)
        return Conditioning(
            engine=self.name,
            engine_version="toyb-1.0",
            params={"samples": len(wav_paths), "computed": next(_computed)},
            arrays={"peak": np.array([max(peaks, default=0.0)], dtype=np.float32)},
        )

    def _square(self, text: str, conditioning: Conditioning, params) -> np.ndarray:
        if conditioning.engine != self.name:
            raise ValueError(f"a {conditioning.engine} conditioning cannot speak with {self.name}")
        params = FACTS.params_complete(params)
        seconds = len(text) * SECONDS_PER_CHARACTER / params.speed
        t = np.arange(int(seconds * self.sample_rate)) / self.sample_rate
        return (0.3 * np.sign(np.sin(2 * np.pi * params.buzz_hz * t))).astype(np.float32)

    def synthesize(self, *, texts, language, conditioning, params) -> Iterator[np.ndarray]:
        for text in texts:
            yield self._square(text, conditioning, params)

    def stream(self, *, text, language, conditioning, params) -> Iterator[np.ndarray]:
        audio = self._square(text, conditioning, params)
        step = self.sample_rate // 10
        for start in range(0, audio.size, step):
            yield audio[start : start + step]
