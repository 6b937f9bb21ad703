"""Speaker verification with resemblyzer on espeak-ng voices: the same voice scores highest."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from tests.voices.corpus import cached_corpus
from voices.audio.speaker import embed, similarity, verify

SPEAKERS = ["spk_m3_a", "spk_m3_b", "spk_f3_b", "spk_de"]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return cached_corpus(tmp_path_factory.getbasetemp() / "voices-corpus")


@pytest.fixture(scope="module")
def embeddings(corpus) -> dict[str, np.ndarray]:
    return {name: embed(corpus[name]) for name in SPEAKERS}


def test_embedding_is_a_unit_vector(embeddings):
    vector = embeddings["spk_m3_a"]
    assert vector.shape == (256,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)
    assert similarity(vector, vector) == pytest.approx(1.0, abs=1e-6)


def test_same_voice_scores_above_different_voices(embeddings):
    scores = {
        (a, b): similarity(embeddings[a], embeddings[b])
        for a, b in itertools.combinations(SPEAKERS, 2)
    }
    for (a, b), score in scores.items():
        print(f"similarity {a} ~ {b}: {score:.4f}")
    same = scores[("spk_m3_a", "spk_m3_b")]  # en+m3, different sentences
    assert same > scores[("spk_m3_a", "spk_f3_b")]  # en+f3, the second sentence
    assert same > scores[("spk_m3_a", "spk_de")]  # German voice, German text
    assert same > scores[("spk_m3_b", "spk_f3_b")]  # same sentence, other voice


def test_verify_accepts_the_same_voice_and_refuses_another(corpus):
    accepted, same_score = verify([corpus["spk_m3_a"]], corpus["spk_m3_b"], threshold=0.8)
    refused, other_score = verify([corpus["spk_m3_a"]], corpus["spk_f3_b"], threshold=0.8)
    print(f"verify same voice: {same_score:.4f}; other voice: {other_score:.4f}")
    assert accepted and not refused
    assert same_score > other_score


def test_verify_averages_several_references(corpus):
    accepted, score = verify([corpus["spk_m3_a"], corpus["wav"]], corpus["spk_m3_b"], threshold=0.8)
    assert accepted, score


def test_verify_needs_a_reference(corpus):
    with pytest.raises(ValueError, match="at least one"):
        verify([], corpus["spk_m3_b"], threshold=0.8)
