# ruff: noqa: RUF001 -- the test lines are real text in 23 languages and scripts.
"""The Chatterbox engine on a tiny random-weight checkpoint, in process (no worker).

One engine is loaded for the module (through upstream's `from_local`); every synthesis is
capped at a few speech tokens so the file stays around two minutes on a small CPU.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthesis.engines.base import Conditioning, EngineUnavailable
from synthesis.engines.chatterbox import FACTS
from tests.synthesis.engines.conftest import write_reference_wav

pytestmark = pytest.mark.slow

TOKENS = 6
TEXT = "The keeper climbed the stairs."

# One short line per language, in its own script (tokenised, not spoken, below).
LINES = {
    "ar": "مرحبا بكم في البيت.", "da": "Hej, hvordan går det?",
    "de": "Grüß Gott, wie geht's?",
    "el": "Καλημέρα, τι κάνεις;", "en": "Hello there.", "es": "¿Dónde está la estación?",
    "fi": "Hyvää päivää, mitä kuuluu?", "fr": "Ça va très bien, merci.",
    "he": "שלום, מה שלומך?", "hi": "नमस्ते, आप कैसे हैं?", "it": "Perché no? È così.",
    "ja": "こんにちは、おげんきですか。", "ko": "안녕하세요, 잘 지내요?",
    "ms": "Selamat pagi, apa khabar?",
    "nl": "Goedemorgen, hoe gaat het?", "no": "Hei, hvordan går det? Blåbær og brød.",
    "pl": "Dzień dobry, jak się masz? Łódź.", "pt": "Olá, tudo bem? Não, obrigação.",
    "ru": "Привет, как дела? Ёлка.", "sv": "Hej, hur mår du? Smörgås.",
    "sw": "Habari za asubuhi, rafiki.", "tr": "Günaydın, nasılsın? Işık, şeker, ğ.",
    "zh": "你好，今天是好天。",
}  # fmt: skip


@pytest.fixture(scope="module")
def engine(chatterbox_tiny_dir):
    from synthesis.engines.chatterbox.engine import ChatterboxEngine

    engine = ChatterboxEngine(chatterbox_tiny_dir, device="cpu", max_new_tokens=TOKENS)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def voice(engine, tmp_path_factory) -> Conditioning:
    folder = tmp_path_factory.mktemp("chatterbox-voice")
    first = write_reference_wav(folder / "a.wav", seconds=0.8, sample_rate=22050, seed=0)
    second = write_reference_wav(folder / "b.wav", seconds=0.5, sample_rate=44100, seed=1)
    return engine.compute_conditioning(wav_paths=[first, second])


def params(**given):
    return FACTS.params_checked(given)


def speak(engine, voice, texts, *, language="en", **given):
    return list(
        engine.synthesize(
            texts=texts, language=language, conditioning=voice, params=params(**given)
        )
    )


# -- facts and availability (no model needed) ----------------------------------------------


def test_facts_declare_the_model_without_importing_torch():
    code = (
        "import sys; import synthesis.engines.chatterbox as c; "
        "assert 'torch' not in sys.modules and 'chatterbox' not in sys.modules; "
        "print(c.FACTS.model_id, len(c.FACTS.languages))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd()
    )
    assert out.stdout.split() == ["chatterbox-multilingual", "23"]
    assert FACTS.commercial_use and FACTS.clones and FACTS.streams
    assert "MIT" in FACTS.licence
    assert FACTS.resolve_language("zh-CN") == "zh" and FACTS.resolve_language("nb") == "no"
    with pytest.raises(ValueError, match="Unsupported language"):
        FACTS.resolve_language("cs")


@pytest.mark.parametrize(
    "given",
    [
        {"exaggeration": 2.5},
        {"cfg_weight": -0.1},
        {"temperature": 0},
        {"repetition_penalty": 0.5},
        {"min_p": 1.5},
        {"top_p": 0},
        {"speed": 3.0},
        {"max_new_tokens": 0},
        {"top_k": 50},  # an XTTS parameter
    ],
)
def test_parameters_out_of_range_are_refused(given):
    with pytest.raises(ValueError, match=next(iter(given))):
        FACTS.params_checked(given)


def test_defaults_are_upstreams():
    p = params()
    assert (p.exaggeration, p.cfg_weight, p.temperature) == (0.5, 0.5, 0.8)
    assert (p.repetition_penalty, p.min_p, p.top_p, p.speed) == (2.0, 0.05, 1.0, 1.0)
    assert p.seed is None and p.max_new_tokens is None


def test_unavailable_without_a_model_says_how_to_fix_it():
    from synthesis.engines.chatterbox.engine import ChatterboxEngine

    engine = ChatterboxEngine(None, device="cpu")
    with pytest.raises(EngineUnavailable) as caught:
        engine.load()
    assert "No Chatterbox model" in caught.value.reason
    assert "CHATTERBOX_MODEL_DIR" in caught.value.fix and "CHATTERBOX_DOWNLOAD" in caught.value.fix
    status = engine.status()
    assert not status.ready and status.reason == caught.value.reason


def test_unavailable_names_the_missing_file(chatterbox_tiny_dir, tmp_path):
    from synthesis.engines.chatterbox.engine import ChatterboxEngine

    for name in ("ve.pt", "t3_mtl23ls_v2.safetensors", "grapheme_mtl_merged_expanded_v1.json"):
        (tmp_path / name).symlink_to(chatterbox_tiny_dir / name)
    with pytest.raises(EngineUnavailable, match=r"lacks s3gen\.pt") as caught:
        ChatterboxEngine(tmp_path, device="cpu").load()
    assert "CHATTERBOX_MODEL_DIR" in caught.value.fix


# -- the loaded engine --------------------------------------------------------------------


def test_the_tiny_checkpoint_loads_through_from_local(engine, chatterbox_tiny_dir):
    from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS
    from chatterbox.mtl_tts import ChatterboxMultilingualTTS

    assert isinstance(engine.model, ChatterboxMultilingualTTS)
    assert engine.model.t3.cfg.num_hidden_layers == 14  # the marker's override...
    assert LLAMA_CONFIGS["Llama_520M"]["num_hidden_layers"] == 30  # ...restored after
    status = engine.status()
    assert status.ready and status.model_version.startswith("chatterbox-mtl-")


def test_every_language_tokenizes_without_unknown_tokens(engine):
    from chatterbox.mtl_tts import punc_norm

    unknown = engine.model.tokenizer.tokenizer.token_to_id("[UNK]")
    for language, line in LINES.items():
        ids = engine.model.tokenizer.encode(punc_norm(line), language_id=language)
        assert ids[0] == engine.model.tokenizer.tokenizer.token_to_id(f"[{language}]")
        assert unknown not in ids, (language, engine.model.tokenizer.decode(ids))


def test_conditioning_survives_npz_bit_for_bit(engine, voice):
    assert set(voice.arrays) == {
        "t3.speaker_emb",
        "t3.cond_prompt_speech_tokens",
        "gen.prompt_token",
        "gen.prompt_token_len",
        "gen.prompt_feat",
        "gen.embedding",
    }
    assert voice.params["absent"] == ["gen.prompt_feat_len"]
    assert voice.params["sample_count"] == 2
    assert voice.arrays["gen.prompt_token"].dtype == np.int64
    reloaded = Conditioning.from_npz_bytes(voice.to_npz_bytes())
    assert reloaded.params == voice.params
    for name, array in voice.arrays.items():
        assert reloaded.arrays[name].dtype == array.dtype
        assert reloaded.arrays[name].tobytes() == array.tobytes()


@pytest.fixture(scope="module")
def spoken(engine, voice):
    """Four renderings of TEXT, five model calls in all (each costs seconds on a CPU)."""
    from synthesis.engines.chatterbox.generation import forward_hook_count

    alone = speak(engine, voice, [TEXT], seed=8)[0]
    hooks = forward_hook_count(engine.model.t3)
    reloaded = Conditioning.from_npz_bytes(voice.to_npz_bytes())
    pair = speak(engine, reloaded, [TEXT, TEXT], seed=7)
    pieces = list(
        engine.stream(text=TEXT, language="en", conditioning=voice, params=params(seed=8))
    )
    return {"alone": alone, "pair": pair, "pieces": pieces, "hooks_after_first": hooks}


def test_same_seed_same_audio_from_reloaded_conditioning(spoken):
    alone, (seed_7, seed_8) = spoken["alone"], spoken["pair"]
    assert alone.dtype == np.float32 and alone.size > 0
    # Text i of a request samples with seed + i, from the stored (reloaded) conditioning:
    # the second text of the pair is bit-for-bit the text spoken alone with seed 8...
    np.testing.assert_array_equal(seed_8, alone)
    # ...and the first, the same text with seed 7, differs.
    assert seed_7.shape != alone.shape or not np.array_equal(seed_7, alone)


def test_alignment_hooks_do_not_pile_up(engine, spoken):
    from synthesis.engines.chatterbox.generation import alignment_hook_count, forward_hook_count

    # Upstream leaves three attention hooks per call; none survive here, none pile up.
    assert alignment_hook_count(engine.model.t3) == 0
    assert forward_hook_count(engine.model.t3) == spoken["hooks_after_first"]


def test_stream_yields_what_synthesize_does(spoken):
    assert len(spoken["pieces"]) >= 1
    np.testing.assert_array_equal(np.concatenate(spoken["pieces"]), spoken["alone"])


def test_a_second_language_with_its_own_script(engine, voice):
    (audio,) = speak(engine, voice, [LINES["zh"]], language="zh-CN", seed=3)
    assert audio.dtype == np.float32 and audio.size > 0
    with pytest.raises(ValueError, match="Unsupported language"):
        speak(engine, voice, [TEXT], language="cs", seed=3)


def test_foreign_or_incomplete_conditioning_is_refused(engine, voice):
    foreign = Conditioning(engine="xtts", engine_version="x", arrays=dict(voice.arrays))
    with pytest.raises(ValueError, match="made by 'xtts'"):
        speak(engine, foreign, [TEXT], seed=1)
    partial = dict(voice.arrays)
    del partial["gen.prompt_feat"]
    broken = Conditioning(engine="chatterbox", engine_version="x", arrays=partial)
    with pytest.raises(ValueError, match=r"lacks gen\.prompt_feat"):
        speak(engine, broken, [TEXT], seed=1)
    with pytest.raises(ValueError, match="empty"):
        speak(engine, voice, ["   "], seed=1)


def test_speed_stretches_time_and_keeps_pitch():
    from synthesis.engines.chatterbox.generation import time_stretch

    rate = 24_000
    tone = np.sin(2 * np.pi * 220 * np.arange(rate) / rate).astype(np.float32)
    faster = time_stretch(tone, 2.0)
    assert faster.dtype == np.float32
    assert abs(faster.size - rate / 2) < rate * 0.02
    spectrum = np.abs(np.fft.rfft(faster))
    assert abs(np.fft.rfftfreq(faster.size, 1 / rate)[np.argmax(spectrum)] - 220) < 5
    assert time_stretch(tone, 1.0) is tone


def test_cangjie_table_beside_the_weights_is_used(tmp_path, monkeypatch):
    import json
    from types import SimpleNamespace

    from chatterbox.models.tokenizers.tokenizer import ChineseCangjieConverter

    from synthesis.engines.chatterbox.loading import _load_cangjie

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    converter = ChineseCangjieConverter(tmp_path)  # finds nothing: no HF cache layout here
    assert converter.word2cj == {}
    (tmp_path / "Cangjie5_TC.json").write_text(json.dumps(["你\tonf", "好\tvnd"]), "utf-8")
    _load_cangjie(SimpleNamespace(tokenizer=SimpleNamespace(cangjie_converter=converter)), tmp_path)
    converter.segmenter = None
    assert converter("你好") == "[cj_o][cj_n][cj_f][cj_.][cj_v][cj_n][cj_d][cj_.]"
