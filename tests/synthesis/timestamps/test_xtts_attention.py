"""XTTS tells character times from its GPT's attention (tiny random-weight checkpoint: the
attention means nothing, but the path must be monotonic and cover each chunk)."""

# Fixtures imported from the engine tests' conftest are redefined as test arguments.
# ruff: noqa: F811

from __future__ import annotations

import numpy as np
import pytest

from synthesis.engines.alignment import CharAlignment
from synthesis.engines.xtts import FACTS
from tests.synthesis.engines.conftest import (  # noqa: F401 (fixtures)
    reference_wav,
    voice,
    xtts_engine,
    xtts_tiny_checkpoint,
)

TEXTS = ["Hello there, 12 cats.", "A second, shorter one."]


def check_covering(alignment: CharAlignment, text: str, seconds: float) -> None:
    assert alignment.source == "engine"
    assert alignment.characters == list(text)
    starts, ends = np.array(alignment.starts), np.array(alignment.ends)
    assert np.all(starts <= ends)
    assert np.all(ends[:-1] <= starts[1:])
    assert starts[0] >= 0
    assert ends[-1] == pytest.approx(seconds, abs=1e-6)  # the last code ends the chunk


def test_synthesize_aligned_gives_monotonic_covering_times(xtts_engine, voice):
    params = FACTS.params_checked({"seed": 5, "max_new_tokens": 24})
    results = list(
        xtts_engine.synthesize_aligned(
            texts=TEXTS, language="en", conditioning=voice, params=params
        )
    )
    plain = list(
        xtts_engine.synthesize(texts=TEXTS, language="en", conditioning=voice, params=params)
    )
    for (audio, alignment), expected, text in zip(results, plain, TEXTS, strict=True):
        np.testing.assert_array_equal(audio, expected)  # asking for times changes no sample
        check_covering(alignment, text, audio.size / xtts_engine.sample_rate)


def test_stream_aligned_ends_with_the_alignment_of_the_whole_text(xtts_engine, voice):
    params = FACTS.params_checked({"seed": 5, "max_new_tokens": 24})
    items = list(
        xtts_engine.stream_aligned(text=TEXTS[0], language="en", conditioning=voice, params=params)
    )
    *pieces, alignment = items
    assert all(isinstance(piece, np.ndarray) for piece in pieces)
    samples = sum(piece.size for piece in pieces)
    check_covering(alignment, TEXTS[0], samples / xtts_engine.sample_rate)


def test_a_model_that_cannot_tell_falls_back_to_none(xtts_engine, voice, monkeypatch):
    from synthesis.engines.xtts import attention

    def broken(*args, **kwargs):
        raise RuntimeError("attention replaced by a fused kernel")

    monkeypatch.setattr(attention, "code_text_attention", broken)
    params = FACTS.params_checked({"seed": 5, "max_new_tokens": 8})
    ((_, alignment),) = xtts_engine.synthesize_aligned(
        texts=TEXTS[:1], language="en", conditioning=voice, params=params
    )
    assert alignment is None
