"""Random-weight XTTS checkpoints in the real layout, loaded through coqui's own path."""

from __future__ import annotations

import json

import pytest
import torch

from synthesis.engines.xtts.checkpoint import (
    LANGUAGES,
    VOCAB_SIZE,
    build_config,
    build_vocab,
    count_parameters,
    write_checkpoint,
)


@pytest.fixture(scope="module")
def coqui_model(xtts_tiny_checkpoint):
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    config = XttsConfig()
    config.load_json(str(xtts_tiny_checkpoint / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(config, checkpoint_dir=str(xtts_tiny_checkpoint), eval=True)
    return model


def test_layout_is_the_released_one(xtts_tiny_checkpoint):
    names = sorted(path.name for path in xtts_tiny_checkpoint.iterdir())
    assert names == ["config.json", "model.pth", "vocab.json"]
    saved = torch.load(xtts_tiny_checkpoint / "model.pth", map_location="cpu", weights_only=True)
    assert set(saved) == {"model"}
    assert any(key.startswith("gpt.gpt.h.1.") for key in saved["model"])
    assert any(key.startswith("hifigan_decoder.waveform_decoder.") for key in saved["model"])
    config = json.loads((xtts_tiny_checkpoint / "config.json").read_text())
    assert config["model"] == "xtts"
    assert config["model_args"]["gpt_use_perceiver_resampler"] is True


def test_loads_with_the_plain_coqui_path(coqui_model, xtts_tiny_checkpoint):
    saved = torch.load(xtts_tiny_checkpoint / "model.pth", map_location="cpu", weights_only=True)
    loaded = coqui_model.state_dict()
    for key, value in saved["model"].items():
        assert torch.equal(loaded[key], value), key
    args = coqui_model.args
    assert (args.gpt_layers, args.gpt_n_model_channels, args.gpt_n_heads) == (2, 64, 4)
    assert args.decoder_input_dim == args.gpt_n_model_channels
    assert coqui_model.gpt.gpt_inference is not None  # eval=True prepared generation


def test_vocab_has_xtts_special_and_language_tokens(coqui_model):
    tokenizer = coqui_model.tokenizer
    vocab = tokenizer.tokenizer.get_vocab()
    for token in ["[STOP]", "[UNK]", "[SPACE]", "[START]"] + [f"[{lang}]" for lang in LANGUAGES]:
        assert token in vocab, token
    assert len(LANGUAGES) == 17
    assert tokenizer.get_number_tokens() == VOCAB_SIZE == max(vocab.values()) + 1
    assert coqui_model.args.gpt_number_text_tokens == VOCAB_SIZE
    assert coqui_model.args.gpt_start_text_token == vocab["[START]"]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Hello there, 12 dogs barked."),
        ("de", "Grüße aus Köln, sagte Jürgen."),
        ("fr", "Ça va très bien, merci."),
        ("es", "¿Qué tal, señor Muñoz?"),
        ("ru", "Привет, как дела?"),
        ("ko", "안녕하세요"),
        ("ar", "مرحبا بالعالم"),
        ("hi", "नमस्ते दुनिया"),
        ("pl", "Zażółć gęślą jaźń"),
        ("tr", "İstanbul güzel"),
    ],
)
def test_text_in_many_languages_encodes_without_unknown_tokens(coqui_model, language, text):
    ids = coqui_model.tokenizer.encode(text, lang=language)
    unk = coqui_model.tokenizer.tokenizer.token_to_id("[UNK]")
    assert len(ids) > 3
    assert unk not in ids
    assert ids[0] == coqui_model.tokenizer.tokenizer.token_to_id(f"[{language}]")


def test_unknown_characters_fall_back_to_unk(coqui_model):
    ids = coqui_model.tokenizer.encode("snow ☃ man", lang="en")
    assert coqui_model.tokenizer.tokenizer.token_to_id("[UNK]") in ids


def test_chinese_encodes_when_pypinyin_is_installed(coqui_model):
    pytest.importorskip("pypinyin", reason="coqui romanises Chinese with pypinyin")
    ids = coqui_model.tokenizer.encode("你好\uff0c世界", lang="zh-cn")
    assert ids[0] == coqui_model.tokenizer.tokenizer.token_to_id("[zh-cn]")


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, xtts_tiny_checkpoint):
    again = write_checkpoint(size="tiny", out_dir=tmp_path / "again", seed=0)
    other = write_checkpoint(size="tiny", out_dir=tmp_path / "other", seed=1)
    reference = torch.load(xtts_tiny_checkpoint / "model.pth", weights_only=True)["model"]
    same = torch.load(again / "model.pth", weights_only=True)["model"]
    different = torch.load(other / "model.pth", weights_only=True)["model"]
    key = "gpt.mel_head.weight"
    assert all(torch.equal(reference[k], same[k]) for k in reference)
    assert not torch.equal(reference[key], different[key])
    assert (again / "vocab.json").read_bytes() == (xtts_tiny_checkpoint / "vocab.json").read_bytes()


def test_full_size_has_the_released_shapes_and_parameter_count():
    args = build_config(size="full", vocab=build_vocab()).model_args
    assert (args.gpt_layers, args.gpt_n_model_channels, args.gpt_n_heads) == (30, 1024, 16)
    assert (args.gpt_max_audio_tokens, args.gpt_max_text_tokens) == (605, 402)
    assert (args.gpt_num_audio_tokens, args.gpt_start_audio_token) == (8194, 8192)
    assert args.decoder_input_dim == 1024
    assert args.gpt_number_text_tokens == 6681
    # Counted on the meta device: nothing allocated, nothing written.
    assert count_parameters(size="full") == pytest.approx(481.6e6, rel=0.005)


def test_unknown_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match="size must be one of"):
        write_checkpoint(size="huge", out_dir=tmp_path)
