"""One text through Chatterbox's T3 and S3Gen: upstream `generate()` minus its three problems.

Upstream's `ChatterboxMultilingualTTS.generate` (chatterbox-tts 0.1.7) hardcodes
`max_new_tokens=1000`, leaks three forward hooks per call (its AlignmentStreamAnalyzer
registers them on T3's attention layers and never removes them) and always applies the Perth
watermark. Timbre's job pipeline watermarks every output itself, so the body of `generate` is
rebuilt here from upstream's own parts: `punc_norm`, `MTLTokenizer.text_to_tokens`,
`T3.inference` (with a cap) and `S3Gen.inference`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Sampling:
    """Per-request settings of one text (already checked against FACTS)."""

    exaggeration: float
    cfg_weight: float
    temperature: float
    repetition_penalty: float
    min_p: float
    top_p: float
    max_new_tokens: int
    seed: int


@contextlib.contextmanager
def forward_hooks_removed(module: torch.nn.Module):
    """Remove the alignment analyzer's forward hooks added under `module`, even on errors.

    T3.inference builds an AlignmentStreamAnalyzer per call, which registers hooks without
    keeping their handles; without this each call adds three more (slower, and a leak).
    Only those are removed: transformers registers output-recording hooks of its own on
    first use and keeps relying on them.
    """
    before = {id(m): set(m._forward_hooks) for m in module.modules()}
    try:
        yield
    finally:
        for sub in module.modules():
            known = before.get(id(sub), set())
            for key, hook in list(sub._forward_hooks.items()):
                if key not in known and _is_alignment_spy(hook):
                    del sub._forward_hooks[key]


def _is_alignment_spy(hook) -> bool:
    return "AlignmentStreamAnalyzer" in getattr(hook, "__qualname__", "")


def forward_hook_count(module: torch.nn.Module) -> int:
    """Forward hooks registered anywhere under `module` (tests assert it stays constant)."""
    return sum(len(m._forward_hooks) for m in module.modules())


def alignment_hook_count(module: torch.nn.Module) -> int:
    """The alignment analyzer's hooks under `module` (0 between calls)."""
    return sum(_is_alignment_spy(h) for m in module.modules() for h in m._forward_hooks.values())


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Global torch RNG set to `seed` inside, restored after (T3 samples with multinomial,
    S3Gen draws its flow noise and HiFT source noise from the global generators)."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def text_tokens(model, text: str, language: str) -> torch.Tensor:
    """Upstream's text preparation: punc_norm, tokenize, two rows for CFG, SOT/EOT padding."""
    from chatterbox.mtl_tts import punc_norm

    ids = model.tokenizer.text_to_tokens(punc_norm(text), language_id=language.lower())
    limit = model.t3.hp.max_text_tokens
    if ids.shape[-1] + 2 > limit:
        raise ValueError(f"text chunk is {ids.shape[-1]} tokens; Chatterbox takes {limit - 2}")
    ids = ids.to(model.t3.device)
    ids = torch.cat([ids, ids], dim=0)  # row 0 conditional, row 1 unconditional (CFG)
    ids = F.pad(ids, (1, 0), value=model.t3.hp.start_text_token)
    return F.pad(ids, (0, 1), value=model.t3.hp.stop_text_token)


def speech_tokens(model, *, t3_cond, tokens: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """T3's speech tokens for one text, at most `max_new_tokens`, only those S3Gen can read."""
    from chatterbox.models.s3tokenizer import SPEECH_VOCAB_SIZE, drop_invalid_tokens

    with torch.inference_mode(), forward_hooks_removed(model.t3):
        generated = model.t3.inference(
            t3_cond=t3_cond,
            text_tokens=tokens,
            max_new_tokens=sampling.max_new_tokens,
            temperature=sampling.temperature,
            cfg_weight=sampling.cfg_weight,
            repetition_penalty=sampling.repetition_penalty,
            min_p=sampling.min_p,
            top_p=sampling.top_p,
        )
        generated = drop_invalid_tokens(generated[0])
        # The released model only emits start/stop tokens outside speech; random weights
        # emit any of the 8194 ids anywhere, and S3Gen's embedding holds only 6561.
        return generated[generated < SPEECH_VOCAB_SIZE]


def vocode(model, tokens: torch.Tensor, ref_dict: dict) -> np.ndarray:
    """S3Gen: speech tokens to float32 24 kHz audio (empty for no tokens)."""
    if tokens.numel() == 0:
        return np.zeros(0, dtype=np.float32)
    with torch.inference_mode():
        wav, _ = model.s3gen.inference(speech_tokens=tokens.to(model.device), ref_dict=ref_dict)
    return wav.squeeze(0).detach().float().cpu().numpy()


def time_stretch(wav: np.ndarray, speed: float) -> np.ndarray:
    """Pitch-preserving tempo change (librosa's phase vocoder); speed 1 returns `wav`."""
    if speed == 1.0 or wav.size < 2048:
        return wav
    import librosa

    return librosa.effects.time_stretch(wav, rate=speed).astype(np.float32)
