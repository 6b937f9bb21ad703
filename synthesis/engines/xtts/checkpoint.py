"""Write random-weight XTTS v2 checkpoints in the real on-disk layout.

Tests and benchmarks never download the released weights. Instead they load a checkpoint
written here through exactly the code path the released model takes
(`Xtts(config)` + `load_checkpoint(config, checkpoint_dir=DIR, eval=True)`):

- `config.json`: an `XttsConfig` whose `model_args` carry the shapes;
- `model.pth`: `{"model": state_dict}`;
- `vocab.json`: a `tokenizers` BPE file with XTTS's special and language tokens.

`tiny` is a 2-layer, 64-wide GPT (the HiFi-GAN decoder and speaker encoder keep their fixed
sizes, ~23 M parameters in all); `full` has the released shapes (~481 M parameters, ~1.9 GB).
Random weights make noise, not speech; shapes, lengths and timings are real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal
from unittest import mock

import torch

from . import FACTS

LANGUAGES = FACTS.languages  # the one table: synthesis/engines/xtts/__init__.py

SPECIAL_TOKENS = ("[STOP]", "[UNK]", "[SPACE]", "[START]")

# Released XttsArgs defaults are the "full" shapes; "tiny" overrides only what makes it small.
_SIZES: dict[str, dict[str, int]] = {
    "tiny": {
        "gpt_layers": 2,
        "gpt_n_model_channels": 64,
        "gpt_n_heads": 4,
        "gpt_max_audio_tokens": 120,
        "gpt_max_text_tokens": 402,
    },
    "full": {
        "gpt_layers": 30,
        "gpt_n_model_channels": 1024,
        "gpt_n_heads": 16,
        "gpt_max_audio_tokens": 605,
        "gpt_max_text_tokens": 402,
    },
}

# The released vocab.json holds 6681 tokens; matching it keeps the text embedding and text
# head at their released sizes (13.7 M parameters in the full model).
VOCAB_SIZE = 6681

_LATIN = "abcdefghijklmnopqrstuvwxyz"
_CYRILLIC = "".join(chr(c) for c in range(0x0430, 0x0450))
_ARABIC = "".join(chr(c) for c in range(0x0627, 0x064B))


def _char_ranges() -> list[str]:
    """Characters the cleaned text of the 17 languages is made of (after lowercasing).

    zh and ja are romanised by coqui's tokenizer (pinyin with tone digits, romaji) and ko
    is romanised too, so Latin letters and digits cover them; anything else maps to [UNK].
    """
    chars = list(_LATIN + "0123456789")
    chars += list(".,!?;:'\"-()\u2026\u00ab\u00bb\u00bf\u00a1\u2013\u2014")
    chars += list("àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿœßčďěňřšťůžąćęłńśźżğışőűāēīōū")
    chars += [*_CYRILLIC, "\u0451", "\u0456", "\u0457", "\u0454"]  # yo, Ukrainian i, yi, ye
    chars += [chr(c) for c in range(0x0621, 0x0653)] + ["،", "؟", "؛"]  # Arabic
    chars += [chr(c) for c in range(0x0900, 0x0980)]  # Devanagari
    chars += [chr(c) for c in range(0x3041, 0x3097)]  # hiragana, for unromanised Japanese
    chars += list("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年")  # common hanzi
    return list(dict.fromkeys(chars))  # stable order, no duplicates


def _merges(*, count: int) -> list[tuple[str, str]]:
    """`count` BPE merges: letter pairs (Latin, Cyrillic, Arabic), then Latin trigrams.

    They make the vocabulary a real BPE (multi-character tokens, shorter sequences, like the
    released one); their ranks only decide how text splits into tokens.
    """
    merges = [
        (a, b) for alphabet in (_LATIN, _CYRILLIC, _ARABIC) for a in alphabet for b in alphabet
    ]
    merges += [(a + b, c) for a in _LATIN for b in _LATIN for c in _LATIN]
    if count > len(merges):
        raise ValueError(f"cannot make {count} merges")
    return merges[:count]


def build_vocab() -> dict:
    """The `tokenizers` JSON document of the vocabulary: exactly VOCAB_SIZE tokens, stable ids."""
    special = list(SPECIAL_TOKENS) + [f"[{lang}]" for lang in LANGUAGES]
    vocab: dict[str, int] = {token: index for index, token in enumerate(special)}
    for char in _char_ranges():
        vocab.setdefault(char, len(vocab))
    merges = _merges(count=VOCAB_SIZE - len(vocab))
    for left, right in merges:
        vocab[left + right] = len(vocab)
    added = [
        {
            "id": vocab[token],
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for token in special
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"},
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


def build_config(*, size: Literal["tiny", "full"], vocab: dict):
    """An `XttsConfig` with the shapes of `size` and token ids taken from `vocab`."""
    from TTS.tts.configs.xtts_config import XttsArgs, XttsAudioConfig, XttsConfig

    if size not in _SIZES:
        raise ValueError(f"size must be one of {sorted(_SIZES)}, got {size!r}")
    shapes = _SIZES[size]
    ids = vocab["model"]["vocab"]
    args = XttsArgs(
        **shapes,
        gpt_number_text_tokens=max(ids.values()) + 1,
        gpt_start_text_token=ids["[START]"],
        gpt_stop_text_token=ids["[STOP]"],
        gpt_use_perceiver_resampler=True,  # XTTS v2
        gpt_use_masking_gt_prompt_approach=True,
        # The vocoder reads the GPT's latents directly, so its input width is the GPT's width.
        decoder_input_dim=shapes["gpt_n_model_channels"],
    )
    # Released v2 inference settings.
    return XttsConfig(
        model_args=args,
        audio=XttsAudioConfig(sample_rate=22050, output_sample_rate=24000),
        languages=list(LANGUAGES),
        temperature=0.75,
        length_penalty=1.0,
        repetition_penalty=5.0,
        top_k=50,
        top_p=0.85,
        gpt_cond_len=30,
        gpt_cond_chunk_len=4,
        max_ref_len=30,
    )


def write_checkpoint(*, size: Literal["tiny", "full"], out_dir: Path, seed: int = 0) -> Path:
    """Write config.json, model.pth and vocab.json with random weights into `out_dir`.

    Deterministic for a given `seed` (the global torch RNG is left untouched). Returns
    `out_dir`. The `full` size needs ~2 GB of RAM and writes ~1.9 GB.
    """
    from TTS.tts.models.xtts import Xtts

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = build_vocab()
    config = build_config(size=size, vocab=vocab)
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    config.save_json(str(out_dir / "config.json"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Xtts(config)
    torch.save({"model": model.state_dict()}, out_dir / "model.pth")
    return out_dir


def count_parameters(*, size: Literal["tiny", "full"]) -> int:
    """Parameter count of a model of `size` without allocating its weights.

    The GPT (nearly all of the full model) is built on the meta device through coqui's own
    constructor call; the vocoder and speaker encoder (fixed size, ~23 M) are built on the CPU
    because torchaudio's mel filterbank cannot be created on meta tensors.
    """
    import TTS.tts.models.xtts as xtts_module

    config = build_config(size=size, vocab=build_vocab())
    real_gpt = xtts_module.GPT

    def meta_gpt(*args, **kwargs):
        with torch.device("meta"):
            return real_gpt(*args, **kwargs)

    with mock.patch.object(xtts_module, "GPT", meta_gpt), torch.random.fork_rng(devices=[]):
        model = xtts_module.Xtts(config)
    return sum(parameter.numel() for parameter in model.parameters())
