"""The joiner says where each chunk lies in the joined signal: crossfaded neighbours meet in
the middle of their crossfade, paragraph pauses separate spans by exactly the pause."""

from __future__ import annotations

import itertools

import numpy as np

from synthesis.engines.alignment import CharAlignment
from synthesis.jobs.alignment import JobTimeline
from synthesis.jobs.joining import Joiner
from synthesis.jobs.text import split_text

RATE = 24_000
OVERLAP = 240  # 10 ms at 24 kHz


def noise(samples: int, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


def test_spans_meet_in_the_middle_of_each_crossfade_and_around_pauses():
    lengths, pauses_ms = [4000, 3000, 5000, 2000], [0, 600, 0, 0]
    joiner = Joiner(sample_rate=RATE)
    out = [
        joiner.add(noise(n, i), pause_ms=p)
        for i, (n, p) in enumerate(zip(lengths, pauses_ms, strict=True))
    ]
    out.append(joiner.finish())
    total = sum(piece.size for piece in out)
    pause = 600 * RATE // 1000
    # Independently: chunk 1 lands OVERLAP before chunk 0 ends; a pause follows chunk 1; ...
    first_1 = lengths[0] - OVERLAP
    end_1 = first_1 + lengths[1]
    first_2 = end_1 + pause
    first_3 = first_2 + lengths[2] - OVERLAP
    assert joiner.spans == [
        [0, first_1 + OVERLAP // 2],
        [first_1 + OVERLAP // 2, end_1],
        [first_2, first_3 + OVERLAP // 2],
        [first_3 + OVERLAP // 2, total],
    ]
    assert joiner.origins == [0, first_1, first_2, first_3]
    assert total == first_3 + lengths[3]


def test_pieces_of_a_streamed_chunk_give_the_same_spans():
    whole, streamed = Joiner(sample_rate=RATE), Joiner(sample_rate=RATE)
    for index, size in enumerate([3000, 2500, 4000]):
        audio = noise(size, index)
        whole.add(audio)
        cuts = [0, 700, 1900, size]
        for i, (a, b) in enumerate(itertools.pairwise(cuts)):
            streamed.add_piece(audio[a:b], chunk_start=i == 0, chunk_end=b == size)
    whole.finish()
    streamed.finish()
    assert streamed.spans == whole.spans


class Channel:
    def __init__(self):
        self.events = []

    def push_alignment(self, event):
        self.events.append(event)


def test_streamed_timings_end_on_the_join_the_next_chunk_makes():
    chunks = split_text("First one here. Second one there.", language="en", limit=20)
    joiner, channel = Joiner(sample_rate=RATE), Channel()
    timeline = JobTimeline(
        normalized="First one here. Second one there.",
        chunks=chunks,
        joiner=joiner,
        sample_rate=RATE,
        channel=channel,
    )
    for chunk in chunks:
        audio = noise(6000, chunk.index)
        joiner.add(audio)
        told = CharAlignment(list(chunk.text), [0.0] * len(chunk.text), [1.0] * len(chunk.text))
        timeline.chunk_done(chunk, audio, told, pause=False)
    joiner.finish()
    document = timeline.document(sum(6000 for _ in chunks) - OVERLAP)
    first, second = document["chunks"]
    join = (6000 - OVERLAP + OVERLAP // 2) / RATE
    assert first["end"] == second["start"] == join
    assert channel.events[0]["ends"][-1] == first["ends"][-1] == join
    assert [e["text_offset"] for e in channel.events] == [0, 16]
    assert document["duration"] == (12000 - OVERLAP) / RATE
