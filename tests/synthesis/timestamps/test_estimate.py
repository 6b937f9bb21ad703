"""The documented estimate, the monotonic path, carrying times across spellings, words and
caption files (pure: no database, no engine)."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import webvtt

from synthesis.engines.alignment import monotonic_path, project_times, spans_from_path
from synthesis.jobs import alignment

RATE = 24_000


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def assert_monotonic(starts, ends):
    assert all(s <= e for s, e in zip(starts, ends, strict=True))
    assert all(e <= s for e, s in zip(ends, starts[1:], strict=False))


def test_estimate_spans_the_speech_and_skips_leading_and_trailing_silence():
    audio = np.concatenate([silence(0.3), tone(1.0), silence(0.5)])
    timed = alignment.estimate(audio, RATE, "Hello, world.")
    assert timed.source == "estimate"
    assert timed.characters == list("Hello, world.")
    assert timed.starts[0] == pytest.approx(0.3, abs=0.011)
    assert timed.ends[-1] == pytest.approx(1.3, abs=0.011)
    assert_monotonic(timed.starts, timed.ends)


def test_estimate_weights_letters_above_spaces_and_pauses_at_punctuation():
    timed = alignment.estimate(tone(2.0), RATE, "ab c.")
    lengths = [e - s for s, e in zip(timed.starts, timed.ends, strict=True)]
    letter, space, full_stop = lengths[0], lengths[2], lengths[4]
    assert lengths[0] == pytest.approx(lengths[1])
    assert space == pytest.approx(letter * alignment.WEIGHTS["space"])
    assert full_stop == pytest.approx(letter * alignment.WEIGHTS["sentence"])


def test_estimate_of_silence_shares_the_whole_chunk():
    timed = alignment.estimate(silence(1.0), RATE, "abc")
    assert (timed.starts[0], timed.ends[-1]) == (0.0, pytest.approx(1.0))


def test_monotonic_path_follows_a_diagonal_and_covers_every_token():
    frames, tokens = 12, 4
    scores = np.full((frames, tokens), 0.01)
    for frame in range(frames):
        scores[frame, frame * tokens // frames] = 1.0
    path = monotonic_path(scores)
    assert path.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    spans = spans_from_path(path, tokens)
    assert spans == [(0, 3), (3, 6), (6, 9), (9, 12)]


def test_monotonic_path_of_noise_is_still_monotonic_and_complete():
    rng = np.random.default_rng(0)
    path = monotonic_path(rng.random((40, 9)))
    assert path[0] == 0 and path[-1] == 8
    assert set(np.diff(path).tolist()) <= {0, 1}


def test_times_carry_over_to_another_spelling():
    starts, ends = project_times("twelve cats", list(range(11)), list(range(1, 12)), "12 Cats!")
    assert len(starts) == len("12 Cats!")
    assert starts[3:7] == [7, 8, 9, 10]  # "Cats" keeps "cats"' times
    assert (starts[0], ends[1]) == (0, 6)  # "12" takes the time of "twelve"
    assert_monotonic(starts, ends)


def test_words_come_from_their_characters():
    chunk = {
        "index": 0,
        "characters": list("Hi, you!"),
        "starts": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
        "ends": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
    }
    assert alignment.words_of([chunk]) == [
        {"word": "Hi,", "start": 0.0, "end": 0.3, "chunk": 0},
        {"word": "you!", "start": 0.4, "end": 0.8, "chunk": 0},
    ]


WORDS = [
    {"word": "One", "start": 0.0, "end": 0.4, "chunk": 0},
    {"word": "<two>", "start": 0.5, "end": 0.9, "chunk": 0},
    {"word": "Three", "start": 1.2, "end": 1.7, "chunk": 1},
]


def test_webvtt_parses_with_a_cue_per_sentence():
    captions = webvtt.from_buffer(io.StringIO(alignment.webvtt(WORDS)))
    cues = [(c.start, c.end, c.text) for c in captions]
    assert cues == [
        ("00:00:00.000", "00:00:00.900", "One &lt;two&gt;"),  # escaped, as WebVTT wants
        ("00:00:01.200", "00:00:01.700", "Three"),
    ]


def test_srt_is_well_formed():
    blocks = alignment.srt(WORDS).strip().split("\n\n")
    assert blocks[0].splitlines() == ["1", "00:00:00,000 --> 00:00:00,900", "One <two>"]
    assert blocks[1].splitlines() == ["2", "00:00:01,200 --> 00:00:01,700", "Three"]
    captions = webvtt.from_srt(_file(alignment.srt(WORDS)))
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:00.000", "00:00:00.900"),
        ("00:00:01.200", "00:00:01.700"),
    ]


def _file(text: str):
    import tempfile

    handle = tempfile.NamedTemporaryFile("w", suffix=".srt", delete=False)  # noqa: SIM115
    handle.write(text)
    handle.close()
    return handle.name


def test_long_sentences_are_cut_into_cues_of_bounded_length():
    words = [
        {"word": f"word{i}", "start": i * 0.5, "end": i * 0.5 + 0.4, "chunk": 0} for i in range(40)
    ]
    cues = alignment.caption_cues(words)
    assert len(cues) > 1
    assert all(len(text) <= alignment.CUE_MAX_CHARACTERS for _, _, text in cues)
    assert all(end - start <= alignment.CUE_MAX_SECONDS for start, end, _ in cues)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues))
