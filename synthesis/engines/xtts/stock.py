"""Coqui's stock XTTS inference paths, for benchmarks against the engine's own.

Same sampling settings and seeding as the engine, so runs compare like for like. A fixed
token count is forced the way Hugging Face `generate` allows: `max_new_tokens` =
`min_new_tokens` = n (the stop token is masked until n tokens exist, then generation ends).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..base import SynthesisParams


def stock_kwargs(params: SynthesisParams) -> dict:
    """Keyword arguments for `Xtts.inference` / `inference_stream` from `params`."""
    kwargs = {
        "temperature": params.temperature,
        "length_penalty": params.length_penalty,
        "repetition_penalty": params.repetition_penalty,
        "top_k": params.top_k,
        "top_p": params.top_p,
        "speed": params.speed,
        "enable_text_splitting": False,
    }
    if params.max_new_tokens is not None:
        kwargs["max_new_tokens"] = params.max_new_tokens
        kwargs["min_new_tokens"] = params.max_new_tokens
    return kwargs


def stock_inference(
    model, *, text: str, language: str, latent, speaker, params: SynthesisParams, seed: int
) -> np.ndarray:
    """Coqui's `Xtts.inference` (one text, one `generate`, a second GPT pass for latents)."""
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.inference(text, language, latent, speaker, **stock_kwargs(params))
    return np.asarray(out["wav"], dtype=np.float32)


def stock_inference_stream(
    model,
    *,
    text: str,
    language: str,
    latent,
    speaker,
    params: SynthesisParams,
    seed: int,
    chunk_size: int,
) -> Iterator[np.ndarray]:
    """Coqui's `Xtts.inference_stream` (re-decodes all latents so far at every chunk)."""
    torch.manual_seed(seed)
    stream = model.inference_stream(
        text, language, latent, speaker, stream_chunk_size=chunk_size, **stock_kwargs(params)
    )
    for piece in stream:
        yield piece.detach().float().cpu().numpy().reshape(-1)
