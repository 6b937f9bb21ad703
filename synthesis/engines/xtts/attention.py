"""Character timings from XTTS's own attention: which text token each audio code looked at.

XTTS's GPT reads [conditioning | text tokens | audio codes] and, predicting each audio code,
attends to the text. After a chunk is generated its sequence is run through the GPT once more
(teacher-forced, one pass: the same numbers the generation saw, since the model is causal), the
attention of every audio position to every text token is taken (softmax of q·k, averaged over
heads and layers, whatever attention kernel the model runs), and the best monotonic path
through it (synthesis.engines.alignment.monotonic_path) gives each token a run of codes. Codes
are spread evenly over the chunk's audio (one latent frame is 1024 samples at 22.05 kHz before
the vocoder; speed changes stretch them, so the audio's own length is used), and each token's
time over its characters, which are then carried onto the chunk's text.

With random weights (the test checkpoints) the attention means nothing, but the path is still
monotonic and covers the chunk; with the released model it follows the speech.
"""

from __future__ import annotations

import logging
import re

import torch

from ..alignment import (
    ENGINE,
    CharAlignment,
    monotonic_path,
    project_times,
    spans_from_path,
    spread_over_characters,
)
from .generation import prefix_embedding

logger = logging.getLogger(__name__)

_SPECIAL = re.compile(r"^\[[^\]]*\]$")


def code_text_attention(gpt, cond_latent, text_tokens: torch.Tensor, codes, frames: int):
    """[frames, text tokens] attention weights of a generated row (numpy, float64)."""
    blocks = list(gpt.gpt.h)
    captured: dict[int, torch.Tensor] = {}

    def capture(index):
        def hook(module, args, kwargs):
            captured[index] = args[0] if args else kwargs["hidden_states"]

        return hook

    handles = [
        block.attn.register_forward_pre_hook(capture(i), with_kwargs=True)
        for i, block in enumerate(blocks)
    ]
    try:
        with torch.inference_mode():
            prefix = prefix_embedding(gpt, cond_latent, text_tokens)
            ids = [gpt.start_audio_token, *codes][:frames]
            ids = torch.tensor([ids], dtype=torch.long, device=prefix.device)
            audio = gpt.mel_embedding(ids)
            audio = audio + gpt.mel_pos_embedding(audio)
            gpt.gpt(inputs_embeds=torch.cat([prefix, audio.to(prefix.dtype)], dim=1))
            first_text = cond_latent.shape[1] + 1  # after the start-of-text token
            text = slice(first_text, first_text + text_tokens.numel())
            rows = prefix.shape[1]
            total = sum(
                _weights(block.attn, captured[i], rows, ids.shape[1], text)
                for i, block in enumerate(blocks)
            )
    finally:
        for handle in handles:
            handle.remove()
    return (total / len(blocks)).double().cpu().numpy()


def _weights(attn, hidden: torch.Tensor, first_row: int, count: int, text: slice):
    """Head-averaged softmax(q·k) of positions [first_row, first_row + count) to `text`."""
    query, key, _ = attn.c_attn(hidden.float()).split(attn.split_size, dim=2)
    heads, dim = attn.num_heads, attn.head_dim
    length = hidden.shape[1]
    query = query[0, first_row : first_row + count].view(count, heads, dim).transpose(0, 1)
    key = key[0].view(length, heads, dim).transpose(0, 1)
    scores = query @ key.transpose(1, 2) * getattr(attn, "scaling", dim**-0.5)
    positions = torch.arange(length, device=hidden.device)
    future = positions[None, :] > (first_row + torch.arange(count, device=hidden.device))[:, None]
    scores = scores.masked_fill(future[None], float("-inf"))
    return torch.softmax(scores, dim=-1)[:, :, text].mean(dim=0)


def token_pieces(tokenizer, ids) -> list[str]:
    """What each text token spells: "[SPACE]" a space, language and other tags nothing."""
    pieces = []
    for token_id in ids:
        piece = tokenizer.tokenizer.id_to_token(int(token_id)) or ""
        if piece == "[SPACE]":
            piece = " "
        elif _SPECIAL.match(piece):
            piece = ""
        pieces.append(piece)
    return pieces


def chunk_alignment(
    *, model, cond_latent, text_tokens, codes, frames: int, text: str, seconds: float
) -> CharAlignment:
    """Character times of `text` (one chunk, `seconds` long) from the GPT's attention."""
    weights = code_text_attention(model.gpt, cond_latent, text_tokens, codes, frames)
    path = monotonic_path(weights)
    frame_seconds = seconds / max(frames, 1)
    spans = [
        (start * frame_seconds, end * frame_seconds)
        for start, end in spans_from_path(path, weights.shape[1])
    ]
    pieces = token_pieces(model.tokenizer, text_tokens.tolist())
    spoken, starts, ends = spread_over_characters(pieces, spans)
    starts, ends = project_times(spoken, starts, ends, text)
    return CharAlignment(list(text), starts, ends, source=ENGINE)


def chunk_alignment_or_none(**kwargs) -> CharAlignment | None:
    """`chunk_alignment`, or None (the pipeline then estimates) when the model cannot tell,
    e.g. attention modules replaced by DeepSpeed kernels."""
    try:
        return chunk_alignment(**kwargs)
    except Exception:
        logger.warning("XTTS attention alignment failed; timings will be estimated", exc_info=True)
        return None
