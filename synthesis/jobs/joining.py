"""Joining synthesized chunks into one click-free signal, whole or while streaming.

Chunks from separate engine calls do not line up: butting them together makes a click wherever
the waveforms disagree. Neighbours are therefore crossfaded over a few milliseconds, and where a
pause goes between them (a paragraph break) each side is faded to and from silence instead.
:class:`Joiner` does this incrementally so a stream can send audio as each chunk arrives;
:func:`join_chunks` runs the same code over a list, so both give identical samples.
"""

from collections.abc import Sequence

import numpy as np

# A listener hears a paragraph break as roughly this much silence; sentences within a paragraph
# need none (the engine leaves its own short gap at the end of each chunk).
PARAGRAPH_PAUSE_MS = 600


def _samples(milliseconds: float, sample_rate: int) -> int:
    return round(milliseconds * sample_rate / 1000)


def _as_mono_float32(chunk: np.ndarray) -> np.ndarray:
    audio = np.asarray(chunk)
    if audio.dtype.kind != "f":  # int16 PCM here would be 32768 times too loud
        raise ValueError(f"audio chunks must hold float samples in [-1, 1], not {audio.dtype}")
    audio = audio.astype(np.float32, copy=False)
    if audio.ndim != 1:
        raise ValueError(f"audio chunks must be 1-D mono arrays, not shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio chunk contains NaN or infinite samples")
    return audio


def _fade_curve(length: int) -> np.ndarray:
    """Raised-cosine ramp from just above 0 to just below 1 (no hard edge at either end)."""
    position = (np.arange(length, dtype=np.float64) + 1) / (length + 1)
    return (0.5 - 0.5 * np.cos(np.pi * position)).astype(np.float32)


def _crossfade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Equal-power crossfade, corrected for how alike the two sides are.

    Equal power keeps loudness steady for unrelated signals (different syllables), but swells
    by up to 3 dB where the two sides are the same waveform (a held vowel, silence hum). Scaling
    by the measured correlation turns it into an equal-gain fade in that case.
    """
    position = (np.arange(tail.size, dtype=np.float64) + 1) / (tail.size + 1)
    fade_out, fade_in = np.cos(np.pi / 2 * position), np.sin(np.pi / 2 * position)
    norms = float(np.linalg.norm(tail) * np.linalg.norm(head))
    correlation = float(np.dot(tail, head)) / norms if norms > 0 else 0.0
    correlation = min(max(correlation, 0.0), 1.0)
    gain = 1.0 / np.sqrt(1.0 + 2.0 * correlation * fade_out * fade_in)
    mixed = tail * fade_out * gain + head * fade_in * gain
    return mixed.astype(np.float32)


class Joiner:
    """Incremental chunk joiner for streaming.

    ``add()`` takes the next chunk (and the pause to put after it) and returns the audio that is
    final now; it keeps back only the last ``crossfade_ms`` of a chunk that will be crossfaded
    into the next one. ``finish()`` returns what is left, faded out. Concatenating every
    returned array gives exactly :func:`join_chunks`'s output. The stream starts with a fade-in
    and ends with a fade-out, and audio around every pause is faded to silence, so neither a
    pause nor the start or end of playback clicks.
    """

    def __init__(self, *, sample_rate: int, crossfade_ms: float = 10) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, not {sample_rate!r}")
        if crossfade_ms < 0:
            raise ValueError(f"crossfade_ms must not be negative, not {crossfade_ms!r}")
        self.sample_rate = sample_rate
        self._overlap = _samples(crossfade_ms, sample_rate)
        self._tail = np.zeros(0, dtype=np.float32)  # held back for the next crossfade
        self._after_silence = True  # stream start, or a pause before the next chunk
        self._finished = False
        self._sent = 0  # samples returned so far
        #: [start, end) of each chunk in the joined output, in samples. Between crossfaded
        #: neighbours the boundary is the middle of the crossfade (both spans share it); around
        #: a pause the spans end and start at the pause's edges. The last span's end is final
        #: once the next chunk arrives or `finish()` is called.
        self.spans: list[list[int]] = []
        #: The output sample where each chunk's own first sample landed (before its span's
        #: start when it was crossfaded in): engine timings are relative to that sample.
        self.origins: list[int] = []

    def add(self, chunk: np.ndarray, *, pause_ms: float = 0) -> np.ndarray:
        """Take the next chunk; return the float32 audio that can be sent now."""
        return self.add_piece(chunk, chunk_start=True, chunk_end=True, pause_ms=pause_ms)

    def add_piece(
        self, piece: np.ndarray, *, chunk_start: bool, chunk_end: bool, pause_ms: float = 0
    ) -> np.ndarray:
        """Take part of a chunk as a streaming engine yields it; return what can be sent now.

        Pieces of one chunk are contiguous audio: only a chunk's first piece is crossfaded into
        (or faded in after silence), and only its last piece takes `pause_ms`. Feeding a chunk
        piece by piece gives the same samples as `add` of the whole chunk.
        """
        if self._finished:
            raise RuntimeError("Joiner.add() called after finish()")
        if pause_ms < 0:
            raise ValueError(f"pause_ms must not be negative, not {pause_ms!r}")
        audio = _as_mono_float32(piece)
        pause = _samples(pause_ms, self.sample_rate) if chunk_end else 0
        if audio.size == 0 and pause == 0:
            if chunk_start:  # a chunk without audio: an empty span where it would be
                self.spans.append([self._sent + self._tail.size] * 2)
                self.origins.append(self._sent + self._tail.size)
            return audio  # nothing to join: keep the held tail for the next real chunk
        if chunk_start:
            self._span_open(audio.size)
            body = self._join_to_previous(audio)
        else:
            body = np.concatenate([self._tail, audio])
            self._tail = np.zeros(0, dtype=np.float32)
        if self.spans:  # the body starts at the first sample not yet returned
            self.spans[-1][1] = self._sent + body.size
        if pause > 0:
            self._after_silence = True
            silence = np.zeros(pause, dtype=np.float32)
            return self._sending(np.concatenate([self._fade_out(body), silence]))
        self._after_silence = False
        held = min(self._overlap, body.size)
        self._tail = body[body.size - held :]
        return self._sending(body[: body.size - held])

    def join_point_if_continued(self) -> int:
        """Where the current chunk will end if the next one is crossfaded into it (at least as
        long as the crossfade): a streamed chunk's timings can be sent before that chunk comes."""
        if not self.spans:
            return 0
        held = self._tail.size
        return self.spans[-1][1] - held + held // 2

    def _span_open(self, size: int) -> None:
        start = origin = self._sent + self._tail.size
        if not self._after_silence and self._tail.size and size:
            overlap = min(self._tail.size, size)
            origin = self._sent + self._tail.size - overlap
            start = origin + overlap // 2
            if self.spans:  # the previous chunk ends in the middle of the crossfade
                self.spans[-1][1] = start
                self.spans[-1][0] = min(self.spans[-1][0], start)
        self.spans.append([start, start])
        self.origins.append(origin)

    def _sending(self, audio: np.ndarray) -> np.ndarray:
        self._sent += audio.size
        return audio

    def finish(self) -> np.ndarray:
        """Return the held-back end of the last chunk, faded out; the stream is then over."""
        self._finished = True
        tail, self._tail = self._tail, np.zeros(0, dtype=np.float32)
        return self._sending(self._fade_out(tail))

    def _join_to_previous(self, chunk: np.ndarray) -> np.ndarray:
        if self._after_silence:
            return self._fade_in(chunk)
        overlap = min(self._tail.size, chunk.size)
        tail = self._tail
        self._tail = np.zeros(0, dtype=np.float32)
        mixed = _crossfade(tail[tail.size - overlap :], chunk[:overlap])
        return np.concatenate([tail[: tail.size - overlap], mixed, chunk[overlap:]])

    def _fade_in(self, audio: np.ndarray) -> np.ndarray:
        length = min(self._overlap, audio.size)
        audio = audio.copy()
        audio[:length] *= _fade_curve(length)
        return audio

    def _fade_out(self, audio: np.ndarray) -> np.ndarray:
        length = min(self._overlap, audio.size)
        audio = audio.copy()
        audio[audio.size - length :] *= _fade_curve(length)[::-1]
        return audio


def join_chunks(
    chunks: Sequence[np.ndarray],
    *,
    sample_rate: int,
    crossfade_ms: float = 10,
    pauses_ms: Sequence[float] | None = None,
) -> np.ndarray:
    """Join mono float32 chunks into one float32 signal.

    ``pauses_ms[i]`` is the silence after chunk ``i`` (one entry per chunk; the last one, if not
    0, is trailing silence). Without a pause, neighbours overlap by ``crossfade_ms`` with an
    equal-power crossfade, so the result is shorter than the sum by that much per seam. With a
    pause, both sides are faded over ``crossfade_ms`` into and out of the silence. A chunk
    shorter than the crossfade overlaps by its own length only.
    """
    if pauses_ms is None:
        pauses_ms = [0] * len(chunks)
    if len(pauses_ms) != len(chunks):
        raise ValueError(f"pauses_ms has {len(pauses_ms)} entries for {len(chunks)} chunks")
    joiner = Joiner(sample_rate=sample_rate, crossfade_ms=crossfade_ms)
    pieces = [
        joiner.add(chunk, pause_ms=pause) for chunk, pause in zip(chunks, pauses_ms, strict=True)
    ]
    pieces.append(joiner.finish())
    return np.concatenate(pieces)
