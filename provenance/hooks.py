"""What the synthesis pipeline calls on every output (worker side).

`mark_audio` runs on each engine output before joining (streamed pieces included), so the
watermark is in the stored file and in every stream. `output_finished` runs on the encoded file
before it is stored: it signs content credentials into it and records its fingerprint in the
generation registry.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from django.conf import settings

from provenance.credentials import credentials_sign
from provenance.watermark import watermark_apply

logger = logging.getLogger(__name__)


def mark_audio(audio: np.ndarray, *, sample_rate: int, engine: str) -> np.ndarray:
    """The engine's output with the deployment's watermark applied (unchanged when off).

    The pipeline does not call this for engines that mark their own output
    (`Engine.watermarks_itself`). Raises WatermarkUnavailable when the watermark is on and
    cannot load: an output must never leave unmarked while the operator asked for the mark (the
    worker already reported the engine not ready at start, see synthesis.workers.status).
    """
    if not settings.PROVENANCE_WATERMARK:
        return audio
    return watermark_apply(audio, sample_rate=sample_rate)


def output_finished(path: Path, *, job) -> None:
    """Sign `path` (the encoded output of `job`) and record it in the generation registry.

    Neither step fails the job: an unsigned output is logged, and the registry logs its own
    failures.
    """
    credentials_sign(Path(path), job=job)
    try:
        from provenance.registry import registry_record
    except ImportError:  # a checkout without the registry: the output is still signed
        logger.warning("The generation registry is not installed; job %s not recorded", job.code)
        return
    registry_record(Path(path), job=job)
