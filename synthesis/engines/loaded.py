"""The load-once lifecycle shared by engines that hold one model (XTTS, Chatterbox).

Pure Python: the engine's `_load()` does the torch work; this keeps the state, the lock, the
failure (reason and fix) and the status every engine reports the same way.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .base import EngineStatus, EngineUnavailable


class LoadsOnce:
    """Mixin for an Engine: `load()` runs `_load()` once, thread-safe, remembering a failure;
    `status()` never loads. `_load()` sets `model`, `device`, `model_version`, `load_seconds`."""

    name: str = ""

    def _loading_init(self, device: str) -> None:
        self.requested_device = device
        self.model = None
        self.device = None
        self.model_version = ""
        self.load_seconds: float | None = None
        self._failure: EngineUnavailable | None = None
        self._lock = threading.Lock()

    def _load(self) -> None:  # pragma: no cover - every engine defines it
        raise NotImplementedError

    def load(self) -> None:
        with self._lock:
            if self.model is not None:
                return
            try:
                self._load()
            except EngineUnavailable as exc:
                self._failure = exc
                raise
            self._failure = None

    def status(self) -> EngineStatus:
        failure = self._failure
        return EngineStatus(
            engine=self.name,
            model_version=self.model_version,
            device=str(self.device or self.requested_device),
            load_seconds=self.load_seconds,
            ready=self.model is not None,
            reason=failure.reason if failure else ("" if self.model else "not loaded yet"),
            fix=failure.fix if failure else "",
        )

    def _require_model(self):
        if self.model is None:
            self.load()
        return self.model

    @staticmethod
    def _samples_checked(wav_paths) -> list[Path]:
        """The sample paths as Paths; ValueError for none, FileNotFoundError for a missing one."""
        if not wav_paths:
            raise ValueError("compute_conditioning needs at least one WAV file")
        paths = [Path(path) for path in wav_paths]
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"voice sample {path} does not exist")
        return paths
