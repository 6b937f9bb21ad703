"""The speech-engine interface every engine implements.

Pure Python + numpy: no Django, no torch. The web process imports this module (to read
statuses, to validate parameters, to store conditioning) and must never pull torch in.
"""

from __future__ import annotations

import io
import json
import math
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .alignment import CharAlignment
from .facts import SynthesisParams

__all__ = [
    "CharAlignment",
    "Conditioning",
    "Engine",
    "EngineStatus",
    "EngineUnavailable",
    "Row",
    "RowStepper",
    "blend",
    "job_rows",
]

# Seeds live in [0, 2**63) (torch generators take 64-bit seeds); seed + i wraps around.
SEED_MODULUS = 2**63

# Key under which Conditioning metadata is stored inside the .npz; a JSON string array, so
# loading never needs pickle.
_META_KEY = "__meta__"
_ARRAY_PREFIX = "a_"


@dataclass(frozen=True)
class EngineStatus:
    """What an engine reports about itself: loaded or not, and if not, why and how to fix it."""

    engine: str
    model_version: str
    device: str
    load_seconds: float | None
    ready: bool
    reason: str = ""
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, JSON-serialisable (for health endpoints and the admin)."""
        return asdict(self)


class EngineUnavailable(Exception):
    """The engine cannot load. `reason` says what is wrong, `fix` the exact thing to do."""

    def __init__(self, reason: str, *, fix: str = "") -> None:
        super().__init__(f"{reason} Fix: {fix}" if fix else reason)
        self.reason = reason
        self.fix = fix


@dataclass
class Conditioning:
    """A voice as an engine sees it: arrays computed once from clean samples, then stored.

    `params` records how the arrays were computed (sample lengths, model version) so a stale
    conditioning can be detected; `arrays` are the engine-specific tensors as numpy arrays.
    """

    engine: str
    engine_version: str
    params: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def to_npz_bytes(self) -> bytes:
        """Serialise to .npz bytes; metadata goes in as a JSON string, never pickle."""
        meta = {"engine": self.engine, "engine_version": self.engine_version, "params": self.params}
        payload = {_META_KEY: np.array([json.dumps(meta, sort_keys=True)])}
        for name, array in self.arrays.items():
            payload[_ARRAY_PREFIX + name] = np.asarray(array)
        buffer = io.BytesIO()
        np.savez(buffer, **payload)
        return buffer.getvalue()

    @classmethod
    def from_npz_bytes(cls, data: bytes) -> Conditioning:
        """Load bytes written by `to_npz_bytes`; refuses pickled content (allow_pickle=False)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if _META_KEY not in npz.files:
                raise ValueError("not a conditioning file: metadata entry is missing")
            meta = json.loads(str(npz[_META_KEY][0]))
            arrays = {
                key[len(_ARRAY_PREFIX) :]: npz[key]
                for key in npz.files
                if key.startswith(_ARRAY_PREFIX)
            }
        return cls(
            engine=meta["engine"],
            engine_version=meta["engine_version"],
            params=meta.get("params", {}),
            arrays=arrays,
        )


def blend(items: list[tuple[Conditioning, float]]) -> Conditioning:
    """Weighted average of several conditionings of the same engine (a voice mix).

    Weights must be positive; they are normalised to sum to 1. All items must come from the
    same engine and model version and hold arrays of the same names and shapes.

    Only floating-point arrays (embeddings, latents) are averaged. Integer arrays (token ids, such
    as Chatterbox's speech-prompt tokens, and lengths) have no meaningful average: they come from
    the most heavily weighted item.
    """
    if not items:
        raise ValueError("blend needs at least one conditioning")
    first = items[0][0]
    _check_blendable(first, items)
    total = float(sum(weight for _, weight in items))
    heaviest = max(items, key=lambda item: item[1])[0]
    arrays = {}
    for name, reference in first.arrays.items():
        if not np.issubdtype(reference.dtype, np.floating):
            arrays[name] = heaviest.arrays[name].copy()
            continue
        acc = np.zeros(reference.shape, dtype=np.float64)
        for cond, weight in items:
            acc += cond.arrays[name].astype(np.float64) * (weight / total)
        arrays[name] = acc.astype(reference.dtype)
    params = {
        **first.params,
        "blend": [{"weight": w / total, "params": c.params} for c, w in items],
    }
    return Conditioning(
        engine=first.engine, engine_version=first.engine_version, params=params, arrays=arrays
    )


def _check_blendable(first: Conditioning, items: list[tuple[Conditioning, float]]) -> None:
    for cond, weight in items:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ValueError(f"blend weight must be a number, got {weight!r}")
        if not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"blend weights must be positive, got {weight!r}")
        if cond.engine != first.engine or cond.engine_version != first.engine_version:
            raise ValueError(
                "cannot blend conditionings of different engines or model versions: "
                f"{first.engine} {first.engine_version} vs {cond.engine} {cond.engine_version}"
            )
        if set(cond.arrays) != set(first.arrays):
            raise ValueError("cannot blend conditionings holding different arrays")
        for name, array in cond.arrays.items():
            if array.shape != first.arrays[name].shape:
                raise ValueError(
                    f"cannot blend {name!r}: shape {array.shape} vs {first.arrays[name].shape}"
                )


@dataclass(frozen=True, eq=False)
class Row:
    """One text chunk of one job, as a cross-job batch holds it.

    `seed` is final: the row samples with exactly this seed whatever else shares its batch
    (None for engines without a seed parameter). `params` are the job's parameters; their own
    `seed` entry is ignored in favour of `seed`.
    """

    text: str
    language: str
    conditioning: Conditioning
    params: SynthesisParams
    seed: int | None = None


def job_rows(
    texts: list[str], *, language: str, conditioning: Conditioning, params: SynthesisParams
) -> list[Row]:
    """A job's texts as rows: text i takes the job's seed + i (drawn once if the job has none),
    which is what `Engine.synthesize` does within one call, so the audio is the same."""
    if "seed" not in params:
        seed = None
    else:
        seed = params["seed"] if params["seed"] is not None else secrets.randbelow(SEED_MODULUS)
    return [
        Row(
            text=text,
            language=language,
            conditioning=conditioning,
            params=params,
            seed=None if seed is None else (seed + index) % SEED_MODULUS,
        )
        for index, text in enumerate(texts)
    ]


class RowStepper(Protocol):
    """A continuous batch an engine thread drives one generation step at a time.

    `admit` adds a row at the next step (raises ValueError for a bad row, at once); `drop`
    removes rows by key; `step` advances every row and returns (key, audio) of the rows that
    finished; `len()` counts the rows held. A row's audio does not depend on when it joined.
    """

    def admit(self, key: Any, row: Row) -> None: ...

    def drop(self, keys: set) -> None: ...

    def step(self) -> list[tuple[Any, np.ndarray]]: ...

    def __len__(self) -> int: ...


def _same_call(previous: Row, row: Row) -> bool:
    """Can `row` follow `previous` in one `synthesize` call and still get its own seed?"""
    if previous.conditioning is not row.conditioning or previous.language != row.language:
        return False
    if {k: v for k, v in previous.params.items() if k != "seed"} != {
        k: v for k, v in row.params.items() if k != "seed"
    }:
        return False
    if previous.seed is None or row.seed is None:
        return previous.seed is row.seed
    return row.seed == (previous.seed + 1) % SEED_MODULUS


class Engine(ABC):
    """One speech engine: load once, make conditioning from samples, turn text into audio.

    Implementations are configured by constructor arguments only (no Django settings), so they
    run in workers, management commands, benchmarks and tests alike.
    """

    #: Short engine name, stored with every Conditioning ("xtts").
    name: str = ""
    #: How many texts one `synthesize` call takes to good effect (the job pipeline hands it
    #: that many chunks at a time, and saves progress between calls).
    max_batch_size: int = 1
    #: True for engines that watermark their own output (Chatterbox): not marked twice.
    watermarks_itself: bool = False

    @property
    def batch_limit(self) -> int:
        """Rows one `synthesize_rows` call takes to good effect: `max_batch_size` unless the
        engine lowered it (XTTS does after a CUDA out-of-memory). A cross-job scheduler hands
        each call at most this many rows; more still work (the engine splits them)."""
        return self.__dict__.get("_batch_limit", self.max_batch_size)

    @batch_limit.setter
    def batch_limit(self, value: int) -> None:
        self.__dict__["_batch_limit"] = max(1, int(value))

    def row_stepper(self) -> RowStepper | None:
        """A fresh token-level continuous batch, for engines that can refill a finished row's
        slot at the next step; None (the default) makes a scheduler call `synthesize_rows`
        once per batch instead."""
        return None

    def synthesize_rows(self, rows: list[Row]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (index in `rows`, float32 mono audio) once for every row, in any order.

        Rows may come from different jobs, voices, languages and parameters; a row's audio
        must not depend on the other rows of the call (each samples with its own `seed`).
        This default runs consecutive rows that one `synthesize` call can take together
        (same conditioning object, language and parameters, consecutive seeds) as one call,
        so every engine serves cross-job batches; engines that batch across voices override it.
        """
        start = 0
        while start < len(rows):
            end = start + 1
            while end < len(rows) and _same_call(rows[end - 1], rows[end]):
                end += 1
            first = rows[start]
            params = first.params
            if first.seed is not None:
                params = SynthesisParams({**params, "seed": first.seed})
            audios = self.synthesize(
                texts=[row.text for row in rows[start:end]],
                language=first.language,
                conditioning=first.conditioning,
                params=params,
            )
            yield from enumerate(audios, start=start)
            start = end

    @property
    @abstractmethod
    def sample_rate(self) -> int:
        """Output sample rate in Hz of every array the engine yields."""

    @property
    @abstractmethod
    def languages(self) -> list[str]:
        """Language codes the engine accepts."""

    @abstractmethod
    def load(self) -> None:
        """Load weights once (later calls return at once). Raises EngineUnavailable."""

    @abstractmethod
    def status(self) -> EngineStatus:
        """Current state; never raises, never loads."""

    @abstractmethod
    def compute_conditioning(self, *, wav_paths: list[Path]) -> Conditioning:
        """Conditioning from one or more clean mono WAV samples of one voice."""

    @abstractmethod
    def synthesize(
        self,
        *,
        texts: list[str],
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """Yield one float32 mono array per input text, in input order.

        Texts must each fit `char_limit(language)`; engines may process several at once.
        """

    @abstractmethod
    def stream(
        self,
        *,
        text: str,
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray]:
        """Yield float32 mono audio pieces of one text as they are generated."""

    def synthesize_aligned(
        self,
        *,
        texts: list[str],
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[tuple[np.ndarray, CharAlignment | None]]:
        """Like `synthesize`, with each text's character timings when the engine can tell them.

        Only called for jobs that asked for timestamps (telling may cost). The default knows
        nothing: it yields None alignments, and the pipeline estimates from the audio instead.
        """
        for audio in self.synthesize(
            texts=texts, language=language, conditioning=conditioning, params=params
        ):
            yield audio, None

    def stream_aligned(
        self,
        *,
        text: str,
        language: str,
        conditioning: Conditioning,
        params: SynthesisParams,
    ) -> Iterator[np.ndarray | CharAlignment]:
        """Like `stream`; after the last audio piece an engine that can tell may yield one
        CharAlignment of the whole text (times from the text's first sample). The default
        yields audio only."""
        yield from self.stream(
            text=text, language=language, conditioning=conditioning, params=params
        )

    @abstractmethod
    def char_limit(self, language: str) -> int:
        """Longest text (in characters) the engine handles well in one piece for `language`."""
