"""XTTS rows of many jobs: checked rows, one batched GPT run over any voices, and the
continuous batch a scheduler drives (base.RowStepper)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..base import Row, SynthesisParams
from . import FACTS
from .continuous import ContinuousGeneration
from .generation import BatchGeneration, SamplingSettings

if TYPE_CHECKING:
    from .engine import XttsEngine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedRow:
    """A Row checked and turned into what the GPT and the vocoder take."""

    tokens: torch.Tensor
    latent: torch.Tensor
    speaker: torch.Tensor
    seed: int
    settings: SamplingSettings
    params: SynthesisParams


def prepare_row(engine: XttsEngine, row: Row, voices: dict) -> PreparedRow:
    """Check `row` and make what the GPT and the vocoder take (ValueError for a bad row)."""
    params = FACTS.params_complete(row.params)
    tokens = engine._tokens(row.text, row.language)
    # One tensor per conditioning object, so the CPU prefill runs each voice once.
    # Entries hold the conditioning itself, so its id cannot be reused while cached.
    key = id(row.conditioning)
    if key not in voices:
        voices[key] = (row.conditioning, *engine._conditioning_tensors(row.conditioning))
    _, latent, speaker = voices[key]
    seed = row.seed if row.seed is not None else engine._seed(params)
    return PreparedRow(tokens, latent, speaker, seed, engine._settings(params), params)


def rows_generated(engine: XttsEngine, prepared: list[PreparedRow], chunk: list[int]):
    """(index, audio) of the rows `chunk` of `prepared`, generated together; on CUDA
    out-of-memory the rows not yet yielded are retried in halves."""
    pending = list(chunk)
    try:
        rows = [prepared[i] for i in chunk]
        run = BatchGeneration(
            gpt=engine.model.gpt,
            cond_latent=[row.latent for row in rows],
            text_tokens=[row.tokens for row in rows],
            seeds=[row.seed for row in rows],
            settings=[row.settings for row in rows],
            autocast=engine.half and engine.device.type == "cuda",
        )
        for step in run.steps():
            for position in step.rows:
                if run.finished(position):
                    index, row = chunk[position], rows[position]
                    audio = engine._decode(run.results[position], row.speaker, row.params)
                    pending.remove(index)
                    yield index, audio
    except torch.OutOfMemoryError as exc:
        if engine.device.type == "cuda":
            torch.cuda.empty_cache()
        if len(pending) == 1:
            raise RuntimeError(
                "out of GPU memory generating one text chunk; free GPU memory (fewer "
                "workers per GPU, XTTS_HALF=1) or shorten chunks"
            ) from exc
        half = len(pending) // 2
        engine.batch_limit = min(engine.batch_limit, half)
        logger.warning("XTTS batch of %d ran out of memory; retrying as %d", len(pending), half)
        yield from rows_generated(engine, prepared, pending[:half])
        yield from rows_generated(engine, prepared, pending[half:])


class XttsRowStepper:
    """XTTS rows in a continuous batch (base.RowStepper): a finished row is vocoded with its
    own speaker embedding in the step it ends, and its slot is free for the next step."""

    def __init__(self, engine: XttsEngine) -> None:
        self.engine = engine
        self.generation = ContinuousGeneration(
            gpt=engine.model.gpt,
            device=engine.device,
            autocast=engine.half and engine.device.type == "cuda",
        )
        self.rows: dict = {}
        self.voices: dict = {}

    def __len__(self) -> int:
        return len(self.generation)

    def admit(self, key, row: Row) -> None:
        if not self.rows:
            self.voices.clear()  # idle: forget the voices of rows gone
        prepared = prepare_row(self.engine, row, self.voices)
        self.generation.admit(
            key,
            cond_latent=prepared.latent,
            text_tokens=prepared.tokens,
            seed=prepared.seed,
            settings=prepared.settings,
        )
        self.rows[key] = prepared

    def drop(self, keys: set) -> None:
        self.generation.drop(keys)
        for key in keys:
            self.rows.pop(key, None)

    def step(self) -> list[tuple[object, np.ndarray]]:
        finished = []
        for key, result in self.generation.step():
            row = self.rows.pop(key)
            finished.append((key, self.engine._decode(result, row.speaker, row.params)))
        return finished
