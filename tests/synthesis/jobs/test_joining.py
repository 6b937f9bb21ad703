"""Joining synthesized chunks (synthesis/audio_join.py). Pure numpy: no Django, no ffmpeg."""

import numpy as np
import pytest

from synthesis.jobs.joining import Joiner, join_chunks

SR = 24_000
OVERLAP = 240  # 10 ms at 24 kHz


def _sine(freq, seconds, *, phase=0.0, amplitude=0.5):
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def _max_jump(audio):
    return float(np.abs(np.diff(audio)).max())


def _seam_jumps(out, chunks):
    """Largest sample-to-sample step around each crossfaded seam (pauses_ms all 0)."""
    jumps, position = [], 0
    for chunk in chunks[:-1]:
        position += chunk.size - OVERLAP
        jumps.append(_max_jump(out[position - 3 : position + OVERLAP + 3]))
    return jumps


def _random_chunks(rng, count):
    return [
        _sine(rng.uniform(200, 1000), rng.uniform(0.2, 0.5), phase=rng.uniform(0, 2 * np.pi))
        for _ in range(count)
    ]


def test_seams_of_unrelated_chunks_do_not_click():
    # Unrelated chunk ends (different pitch and phase, as between two engine calls) butted
    # together jump by up to the full peak-to-peak swing; crossfaded, a seam's steepest step
    # stays within what an equal-power fade allows (sqrt(2) at most, when two peaks align).
    rng = np.random.default_rng(3)
    ratios, naive_ratios = [], []
    for _ in range(50):
        chunks = _random_chunks(rng, 3)
        inner = max(_max_jump(chunk) for chunk in chunks)
        ratios += [
            jump / inner for jump in _seam_jumps(join_chunks(chunks, sample_rate=SR), chunks)
        ]
        butted = np.concatenate(chunks)
        edges = np.cumsum([chunk.size for chunk in chunks[:-1]])
        naive_ratios += [abs(butted[edge] - butted[edge - 1]) / inner for edge in edges]
    assert max(ratios) <= 1.45
    assert np.median(naive_ratios) > 3  # the measure does catch clicks


@pytest.mark.parametrize("freq", [110.0, 220.0, 440.0, 1000.0, 2500.0])
def test_a_sine_cut_into_chunks_rejoins_smoothly(freq):
    signal = _sine(freq, 1.0, phase=0.3)
    chunks = [signal[:7000], signal[7000:15000], signal[15000:]]
    out = join_chunks(chunks, sample_rate=SR)
    # The fade's own slope adds a little at low pitch (10 ms is ~1 cycle at 110 Hz).
    assert max(_seam_jumps(out, chunks)) <= 1.2 * _max_jump(signal)


def test_identical_overlap_is_joined_without_any_bump():
    # Where both sides carry the same waveform, equal power would swell by 3 dB; the
    # correlation correction makes it an equal-gain fade, so the sine comes out unchanged.
    signal = _sine(300.0, 0.5)
    first, second = signal[:6000], signal[6000 - OVERLAP :]
    out = join_chunks([first, second], sample_rate=SR)
    middle = slice(OVERLAP, signal.size - OVERLAP)  # away from the stream's fade in/out
    np.testing.assert_allclose(out[middle], signal[middle], atol=1e-5)
    assert _max_jump(out) <= _max_jump(signal) * 1.001


def test_length_is_chunks_minus_overlaps_plus_pauses():
    chunks = [_sine(220, 0.5), _sine(330, 0.4), _sine(440, 0.3), _sine(550, 0.2)]
    out = join_chunks(chunks, sample_rate=SR, pauses_ms=[0, 600, 0, 250])
    seams_without_pause = 2  # after chunk 0 and chunk 2
    expected = (
        sum(c.size for c in chunks) - seams_without_pause * OVERLAP + (600 + 250) * SR // 1000
    )
    assert out.size == expected
    assert out.dtype == np.float32


def test_pause_is_true_silence_with_faded_edges():
    chunks = [_sine(440, 0.3, phase=1.0), _sine(440, 0.3, phase=2.0)]
    out = join_chunks(chunks, sample_rate=SR, pauses_ms=[600, 0])
    start, stop = chunks[0].size, chunks[0].size + 600 * SR // 1000
    assert not out[start:stop].any()
    inner = _max_jump(chunks[0])
    # Around the silence, no step is bigger than inside the chunk: no click in or out.
    assert _max_jump(out[start - OVERLAP : stop + OVERLAP]) <= inner
    assert abs(out[start - 1]) < 0.01 and abs(out[stop]) < 0.01


def test_stream_starts_and_ends_faded():
    out = join_chunks([_sine(440, 0.2, phase=np.pi / 2)], sample_rate=SR)
    assert abs(out[0]) < 0.01 and abs(out[-1]) < 0.01
    assert np.abs(out[OVERLAP:-OVERLAP]).max() == pytest.approx(0.5, abs=1e-3)


def test_no_crossfade_is_plain_concatenation():
    chunks = [_sine(220, 0.1), _sine(330, 0.1)]
    out = join_chunks(chunks, sample_rate=SR, crossfade_ms=0)
    np.testing.assert_array_equal(out, np.concatenate(chunks))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_joiner_equals_join_chunks_exactly(seed):
    rng = np.random.default_rng(seed)
    chunks = [*_random_chunks(rng, 8), np.zeros(0, np.float32), _sine(100, 0.004)]
    rng.shuffle(chunks)
    pauses = [int(p) for p in rng.choice([0, 0, 0, 150, 600], size=len(chunks))]
    whole = join_chunks(chunks, sample_rate=SR, pauses_ms=pauses)
    joiner = Joiner(sample_rate=SR)
    pieces = []
    for count, (chunk, pause) in enumerate(zip(chunks, pauses, strict=True), start=1):
        pieces.append(joiner.add(chunk, pause_ms=pause))
        so_far = join_chunks(chunks[:count], sample_rate=SR, pauses_ms=pauses[:count])
        held_back = so_far.size - sum(piece.size for piece in pieces)
        assert 0 <= held_back <= OVERLAP  # only the crossfade tail waits for the next chunk
    pieces.append(joiner.finish())
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_chunks_shorter_than_the_crossfade_are_joined():
    chunks = [_sine(440, 0.1), _sine(440, 0.002), np.zeros(0, np.float32), _sine(440, 0.1)]
    out = join_chunks(chunks, sample_rate=SR)
    assert np.all(np.isfinite(out))
    assert sum(c.size for c in chunks) - 2 * OVERLAP <= out.size < sum(c.size for c in chunks)


def test_empty_chunk_keeps_its_pause():
    chunks = [_sine(220, 0.1), np.zeros(0, np.float32), _sine(220, 0.1)]
    out = join_chunks(chunks, sample_rate=SR, pauses_ms=[0, 500, 0])
    assert out.size == chunks[0].size + chunks[2].size + SR // 2


def test_input_is_validated():
    with pytest.raises(ValueError, match="pauses_ms has 1 entries for 2 chunks"):
        join_chunks([_sine(220, 0.1)] * 2, sample_rate=SR, pauses_ms=[0])
    with pytest.raises(ValueError, match="1-D"):
        join_chunks([np.zeros((10, 2), np.float32)], sample_rate=SR)
    with pytest.raises(ValueError, match="NaN"):
        join_chunks([np.array([0.0, np.nan], np.float32)], sample_rate=SR)
    with pytest.raises(ValueError, match="float samples"):
        join_chunks([np.zeros(10, np.int16)], sample_rate=SR)
    with pytest.raises(ValueError, match="sample_rate"):
        Joiner(sample_rate=0)
    with pytest.raises(ValueError, match="crossfade_ms"):
        Joiner(sample_rate=SR, crossfade_ms=-1)
    joiner = Joiner(sample_rate=SR)
    with pytest.raises(ValueError, match="pause_ms"):
        joiner.add(_sine(220, 0.1), pause_ms=-5)
    joiner.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        joiner.add(_sine(220, 0.1))


def test_piecewise_chunks_equal_whole_chunks():
    rng = np.random.default_rng(3)
    chunks = [rng.uniform(-0.5, 0.5, n).astype(np.float32) for n in (4800, 7200, 3000)]
    pauses = [0, 600, 0]
    whole = join_chunks(chunks, sample_rate=24_000, pauses_ms=pauses)
    joiner = Joiner(sample_rate=24_000)
    out = []
    for chunk, pause in zip(chunks, pauses, strict=True):
        pieces = np.array_split(chunk, 4)
        for i, piece in enumerate(pieces):
            out.append(
                joiner.add_piece(
                    piece, chunk_start=i == 0, chunk_end=i == len(pieces) - 1, pause_ms=pause
                )
            )
    out.append(joiner.finish())
    assert np.array_equal(np.concatenate(out), whole)
