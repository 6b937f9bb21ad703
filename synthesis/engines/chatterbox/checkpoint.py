# ruff: noqa: RUF001 -- the vocabulary lists real characters of 23 languages.
"""Write random-weight Chatterbox Multilingual checkpoints in the real on-disk layout.

Tests and benchmarks never download the released weights; they load a directory written here
through upstream's own `ChatterboxMultilingualTTS.from_local`:

- `ve.pt`: the VoiceEncoder state_dict (torch.save);
- `t3_mtl23ls_v2.safetensors`: the T3 state_dict (safetensors);
- `s3gen.pt`: the S3Gen state_dict (torch.save);
- `grapheme_mtl_merged_expanded_v1.json`: a `tokenizers` BPE of exactly 2454 tokens
  ([STOP]=0 and [START]=255 as T3Config expects, the 23 language tokens, Cangjie tokens);
- `timbre-checkpoint.json`: what was written (size, seed, and for tiny the Llama overrides).

`full` has the released shapes. `tiny` differs only in T3's Llama backbone, which upstream
builds from the in-code table `LLAMA_CONFIGS["Llama_520M"]` (no config file): 14 layers
instead of 30 (the alignment analyzer reads layers 9, 12 and 13) and an MLP width of 256
instead of 4096; hidden size (1024, which the Perceiver and conditioning encoder hard-code),
16 heads, vocabularies and every other module keep their released sizes. The loader reads
the marker and applies those two overrides while `from_local` builds T3. S3Gen and the voice
encoder have no size settings at all, so they are full size in both.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Literal

from . import FACTS
from .loading import MARKER, llama_overrides

TEXT_VOCAB_SIZE = 2454  # T3Config.multilingual().text_tokens_dict_size
START_ID, STOP_ID = 255, 0  # T3Config.start_text_token / stop_text_token

TINY_LLAMA = {"num_hidden_layers": 14, "intermediate_size": 256}
SIZES: dict[str, dict] = {"tiny": TINY_LLAMA, "full": {}}

_LATIN = "abcdefghijklmnopqrstuvwxyz"


def _script_chars() -> list[str]:
    """Characters the 23 languages' text is made of after upstream's lowercase + NFKD."""
    chars = list(_LATIN + "0123456789")
    chars += list(".,!?;:'\"-()¡¿«»،؟؛、。，？！「」")
    chars += [chr(c) for c in range(0x0300, 0x0370)]  # combining marks (NFKD accents)
    chars += list("øæßłıđðþœ")  # Latin letters NFKD keeps whole
    chars += [chr(c) for c in range(0x03B1, 0x03CA)]  # Greek
    chars += [chr(c) for c in range(0x0430, 0x0450)] + ["ё", "і"]  # Cyrillic
    chars += [chr(c) for c in range(0x0591, 0x05F5)]  # Hebrew with niqqud
    chars += [chr(c) for c in range(0x0621, 0x0656)]  # Arabic with harakat
    chars += [chr(c) for c in range(0x0900, 0x0980)]  # Devanagari
    chars += [chr(c) for c in range(0x3041, 0x3097)] + ["\u3099", "\u309a", "ー"]  # hiragana
    chars += [chr(c) for c in range(0x30A1, 0x30FB)]  # katakana
    chars += [chr(c) for c in range(0x1100, 0x1200)]  # Hangul jamo (korean_normalize)
    # Common hanzi: the tokenizer passes Chinese through when Cangjie5_TC.json is absent.
    chars += list("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年天好今")
    normalized = [unicodedata.normalize("NFKD", c) for c in chars]
    return list(dict.fromkeys(c for c in normalized if len(c) == 1))


def build_vocab() -> dict:
    """The `tokenizers` JSON document: exactly TEXT_VOCAB_SIZE tokens with stable ids."""
    vocab: dict[str, int] = {"[STOP]": STOP_ID, "[UNK]": 1, "[SPACE]": 2}
    special = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[PAD]", "[SEP]", "[CLS]", "[MASK]"]
    for char in _script_chars():
        if len(vocab) == START_ID:
            vocab["[START]"] = START_ID
        vocab.setdefault(char, len(vocab))
    tail = [f"[{lang}]" for lang in FACTS.languages] + ["[PAD]", "[SEP]", "[CLS]", "[MASK]"]
    tail += [f"[cj_{c}]" for c in _LATIN + "."]
    for token in tail:
        vocab.setdefault(token, len(vocab))
    merges = [(a, b) for a in _LATIN for b in _LATIN]
    merges += [(a + b, c) for a in _LATIN for b in _LATIN for c in _LATIN]
    merges = merges[: TEXT_VOCAB_SIZE - len(vocab)]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    assert len(vocab) == TEXT_VOCAB_SIZE and vocab["[START]"] == START_ID
    added = [token for token in vocab if token.startswith("[") and len(token) > 1]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": vocab[token],
                "content": token,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": token in special,
            }
            for token in added
        ],
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": None,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "[UNK]",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [[left, right] for left, right in merges],
        },
    }


def build_modules(*, size: Literal["tiny", "full"], seed: int = 0):
    """(VoiceEncoder, T3, S3Gen) with random weights, deterministic for `seed`."""
    import torch
    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.modules.t3_config import T3Config
    from chatterbox.models.voice_encoder import VoiceEncoder

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ve = VoiceEncoder()
        with llama_overrides(SIZES[size]):
            t3 = T3(T3Config.multilingual())
        s3gen = S3Gen()
    return ve, t3, s3gen


def write_checkpoint(*, size: Literal["tiny", "full"], out_dir: Path, seed: int = 0) -> Path:
    """Write the checkpoint files into `out_dir` (created) and return it.

    Deterministic for `seed`; the global torch RNG is left untouched.
    """
    import torch
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ve, t3, s3gen = build_modules(size=size, seed=seed)
    vocab = json.dumps(build_vocab(), ensure_ascii=False)
    (out_dir / "grapheme_mtl_merged_expanded_v1.json").write_text(vocab, encoding="utf-8")
    torch.save(ve.state_dict(), out_dir / "ve.pt")
    t3_state = {name: tensor.contiguous() for name, tensor in t3.state_dict().items()}
    save_file(t3_state, out_dir / "t3_mtl23ls_v2.safetensors")
    torch.save(s3gen.state_dict(), out_dir / "s3gen.pt")
    marker = {
        "writer": "timbre chatterbox_checkpoint",
        "size": size,
        "seed": seed,
        "llama_overrides": SIZES[size],
        "parameters": {
            "ve": _count(ve),
            "t3": _count(t3),
            "s3gen": _count(s3gen),
        },
    }
    (out_dir / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
    return out_dir


def _count(module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())
