"""Linear-cost streaming: pieces arrive during generation and join into the whole decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthesis.engines.base import SynthesisParams
from synthesis.engines.xtts.generation import BatchGeneration, SamplingSettings
from synthesis.engines.xtts.vocoder import (
    CONTEXT_Z_FRAMES,
    HOP,
    StreamingDecoder,
    decode_whole,
    stretch_latents,
)

TEXT = "Streaming should sound exactly like the whole thing."
TOKENS = 28


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture
def chunked(xtts_engine, monkeypatch):
    """The engine streaming every 8 tokens (several pieces from few tokens)."""
    monkeypatch.setattr(xtts_engine, "stream_chunk_size", 8)
    return xtts_engine


@pytest.fixture(scope="module")
def latents(xtts_engine, voice):
    """GPT latents [T, C] of TOKENS generated tokens, and the speaker embedding."""
    model = xtts_engine.model
    tokens = torch.tensor(model.tokenizer.encode(TEXT.lower(), lang="en"))
    settings = SamplingSettings(
        temperature=0.75,
        top_k=50,
        top_p=0.85,
        repetition_penalty=10.0,
        max_tokens=model.gpt.max_gen_mel_tokens,
        fixed_tokens=TOKENS,
    )
    cond = torch.from_numpy(voice.arrays["gpt_cond_latent"])
    (result,) = BatchGeneration(
        gpt=model.gpt, cond_latent=cond, text_tokens=[tokens], seeds=[3], settings=settings
    ).run()
    speaker = torch.from_numpy(voice.arrays["speaker_embedding"])
    return torch.stack(result.latents), speaker, tokens, result.codes


@pytest.fixture(scope="module")
def whole(xtts_engine, latents):
    """Whole-sequence decodes of the latents, by speed (computed on first use)."""
    lat, speaker, _, _ = latents
    cache = {}

    def decode(speed: float) -> np.ndarray:
        if speed not in cache:
            stretched = stretch_latents(lat[None], length_scale=1 / speed)
            with torch.inference_mode():
                cache[speed] = decode_whole(
                    xtts_engine.model.hifigan_decoder, stretched, speaker
                ).numpy()
        return cache[speed]

    return decode


def stream_decode(decoder, latents, speaker, *, sizes, length_scale=1.0, context=None):
    options = {} if context is None else {"context": context}
    streamer = StreamingDecoder(
        decoder=decoder, speaker=speaker, length_scale=length_scale, **options
    )
    pieces, start = [], 0
    with torch.inference_mode():
        for size in sizes:
            pieces.append(streamer.push(latents[start : start + size]))
            start += size
        pieces.append(streamer.finish(latents[start:] if start < len(latents) else None))
    return pieces


@pytest.mark.parametrize(
    ("sizes", "speed"),
    [([14, 14], 1.0), ([5, 9, 2, 7, 5], 1.3), ([3] * 9, 0.8)],
)
def test_streamed_decode_equals_the_whole_decode(xtts_engine, latents, whole, speed, sizes):
    lat, speaker, _, _ = latents
    decoder = xtts_engine.model.hifigan_decoder
    pieces = stream_decode(decoder, lat, speaker, sizes=sizes, length_scale=1 / speed)
    joined, reference = np.concatenate(pieces), whole(speed)
    assert joined.shape == reference.shape
    assert np.abs(joined - reference).max() < 1e-5
    assert relative_error(joined, reference) < 1e-5
    assert all(len(piece) % HOP == 0 for piece in pieces[:-1])


def test_too_little_context_is_measurably_wrong(xtts_engine, latents, whole):
    """The context is load-bearing: without it chunk edges differ from the whole decode."""
    lat, speaker, _, _ = latents
    decoder = xtts_engine.model.hifigan_decoder
    errors = {
        context: relative_error(
            np.concatenate(stream_decode(decoder, lat, speaker, sizes=[14, 14], context=context)),
            whole(1.0),
        )
        for context in (0, 4, CONTEXT_Z_FRAMES)
    }
    assert errors[0] > 1e-3
    assert errors[4] > errors[CONTEXT_Z_FRAMES]
    assert errors[CONTEXT_Z_FRAMES] < 1e-5


def test_gpt_latents_are_causal(xtts_engine, voice, latents):
    """Latents of earlier positions do not change when later tokens are appended."""
    lat, _, tokens, codes = latents
    gpt = xtts_engine.model.gpt
    cond = torch.from_numpy(voice.arrays["gpt_cond_latent"])

    def forward_latents(count):
        with torch.inference_mode():
            return gpt(
                tokens[None],
                torch.tensor([len(tokens)]),
                torch.tensor([codes[:count]]),
                torch.tensor([count * gpt.code_stride_len]),
                cond_latents=cond,
                return_latent=True,
            )[0]

    short, full = forward_latents(12), forward_latents(TOKENS)
    assert torch.allclose(short, full[:12], atol=1e-5)
    # The latents collected during generation are the ones coqui's forward pass computes.
    assert torch.allclose(full, lat, atol=1e-5)


def test_stream_joins_into_the_synthesized_audio(chunked, voice):
    params = SynthesisParams(seed=9, max_new_tokens=TOKENS)
    pieces = list(chunked.stream(text=TEXT, language="en", conditioning=voice, params=params))
    (whole,) = chunked.synthesize(texts=[TEXT], language="en", conditioning=voice, params=params)
    assert len(pieces) >= 3
    assert all(piece.dtype == np.float32 and piece.ndim == 1 for piece in pieces)
    joined = np.concatenate(pieces)
    assert joined.shape == whole.shape
    assert np.abs(joined - whole).max() < 1e-5
    assert relative_error(joined, whole) < 1e-5


def test_stream_with_speed_joins_into_the_synthesized_audio(chunked, voice):
    params = SynthesisParams(seed=9, max_new_tokens=TOKENS, speed=1.5)
    joined = np.concatenate(
        list(chunked.stream(text=TEXT, language="en", conditioning=voice, params=params))
    )
    (whole,) = chunked.synthesize(texts=[TEXT], language="en", conditioning=voice, params=params)
    assert relative_error(joined, whole) < 1e-5


def test_first_piece_arrives_while_tokens_are_still_being_generated(chunked, voice, monkeypatch):
    steps = []
    real_step = BatchGeneration._step

    def counting_step(self, out, active):
        steps.append(1)
        return real_step(self, out, active)

    monkeypatch.setattr(BatchGeneration, "_step", counting_step)
    params = SynthesisParams(seed=9, max_new_tokens=TOKENS)
    stream = chunked.stream(text=TEXT, language="en", conditioning=voice, params=params)
    first = next(stream)
    assert len(first) > 0
    assert len(steps) <= 8  # one chunk of tokens, not the whole generation
    rest = list(stream)
    assert len(steps) == TOKENS and rest


def test_stock_stream_runs_for_comparison(xtts_engine, voice):
    params = SynthesisParams(seed=9, max_new_tokens=24)
    pieces = list(
        xtts_engine.stock_inference_stream(
            text=TEXT, language="en", conditioning=voice, params=params
        )
    )
    assert len(pieces) == 2  # 20-token chunks: 20 + 4
    (ours,) = xtts_engine.synthesize(texts=[TEXT], language="en", conditioning=voice, params=params)
    # Coqui cross-fades 1024 samples at each chunk boundary, so only the length matches.
    assert abs(sum(len(p) for p in pieces) - len(ours)) <= 1024
