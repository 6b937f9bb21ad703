"""The random-weight checkpoint writer: the real file layout, the vocabulary T3 expects."""

from __future__ import annotations

import json

import pytest

from synthesis.engines.chatterbox.checkpoint import TEXT_VOCAB_SIZE, build_vocab
from synthesis.engines.chatterbox.loading import REQUIRED_FILES, read_marker


def test_vocabulary_has_t3s_size_and_special_ids():
    vocab = build_vocab()
    ids = vocab["model"]["vocab"]
    assert len(ids) == TEXT_VOCAB_SIZE == 2454
    assert sorted(ids.values()) == list(range(TEXT_VOCAB_SIZE))
    assert (ids["[STOP]"], ids["[START]"], ids["[UNK]"]) == (0, 255, 1)
    for token in ("[SPACE]", "[en]", "[zh]", "[sw]", "[cj_a]", "[cj_.]"):
        assert token in ids
    assert build_vocab() == vocab  # stable across calls


@pytest.mark.slow
def test_tiny_checkpoint_has_the_released_layout(chatterbox_tiny_dir):
    for name in REQUIRED_FILES:
        assert (chatterbox_tiny_dir / name).is_file()
    marker = read_marker(chatterbox_tiny_dir)
    assert marker["size"] == "tiny" and marker["seed"] == 0
    assert marker["llama_overrides"] == {"num_hidden_layers": 14, "intermediate_size": 256}
    stored = json.loads((chatterbox_tiny_dir / REQUIRED_FILES[3]).read_text("utf-8"))
    assert stored == build_vocab()
