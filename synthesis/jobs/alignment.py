"""Character and word timings of a job's audio, and captions made from them.

Pure Python + numpy: the worker builds a job's timings while it renders (synthesis.jobs.pipeline),
the web process reads them back and turns them into WebVTT/SRT captions and vendor shapes.

Within one chunk (a sentence or a few) the times come from the engine when it can tell (XTTS:
its GPT's attention from audio codes to text tokens) or else from :func:`estimate`. Across
chunks nothing is estimated: each chunk is placed in the span the joiner gave it, so sentence
boundaries fall exactly on the joins the pipeline made (the middle of a crossfade, or the edges
of a paragraph pause).

The estimate, stated honestly: the chunk's speech is taken to run from the first to the last
10 ms frame whose loudness is within 30 dB of the chunk's loudest frame (leading and trailing
silence trimmed), and that span is shared among the characters in proportion to fixed weights
(:data:`WEIGHTS`): letters and digits 1, a space 0.4, a comma-like mark 1.5 and a sentence end 2
(the pause a speaker makes there), other symbols 0.3, combining marks 0. It follows the text's
order and the speech's extent, not the speaker's actual rhythm: a word may be off by a few
hundred milliseconds inside a long sentence.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from synthesis.engines.alignment import ESTIMATE, CharAlignment, monotonic, project_times

FRAME_SECONDS = 0.010
SILENCE_DB = 30.0
WEIGHTS = {"letter": 1.0, "space": 0.4, "clause": 1.5, "sentence": 2.0, "other": 0.3, "mark": 0.0}
_CLAUSE = set(",;:\u3001\uff0c\uff1b\uff1a\u2014\u2013")
_SENTENCE = set(".!?\u3002\uff01\uff1f\u2026")
TIMINGS_VERSION = 1


def char_weight(char: str) -> float:
    """How much of a chunk's speaking time a character takes in the estimate."""
    if char.isspace():
        return WEIGHTS["space"]
    if char in _SENTENCE:
        return WEIGHTS["sentence"]
    if char in _CLAUSE:
        return WEIGHTS["clause"]
    category = unicodedata.category(char)
    if category.startswith("M"):
        return WEIGHTS["mark"]
    if char.isalnum():
        return WEIGHTS["letter"]
    return WEIGHTS["other"]


def speech_span(audio: np.ndarray, sample_rate: int) -> tuple[int, int]:
    """[first, last) sample of the speech in a chunk, leading and trailing silence trimmed.

    The whole chunk when nothing rises above the silence threshold (or it is empty).
    """
    audio = np.asarray(audio, dtype=np.float32)
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    count = audio.size // frame
    if count == 0:
        return 0, audio.size
    frames = audio[: count * frame].reshape(count, frame).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    peak = float(rms.max())
    if peak <= 1e-6:
        return 0, audio.size
    loud = np.flatnonzero(rms >= peak * 10 ** (-SILENCE_DB / 20))
    first, last = int(loud[0]) * frame, (int(loud[-1]) + 1) * frame
    if last >= count * frame:
        last = audio.size  # the remainder after the last whole frame belongs to it
    return first, last


def estimate(audio: np.ndarray, sample_rate: int, text: str) -> CharAlignment:
    """Character times of `text` spoken in `audio` (one chunk), by the documented estimate."""
    chars = list(text)
    first, last = speech_span(audio, sample_rate)
    begin, span = first / sample_rate, (last - first) / sample_rate
    weights = np.array([char_weight(c) for c in chars], dtype=np.float64)
    total = float(weights.sum())
    if not chars:
        return CharAlignment([], [], [], source=ESTIMATE)
    if total <= 0:
        weights, total = np.ones(len(chars)), float(len(chars))
    edges = begin + span * np.concatenate([[0.0], np.cumsum(weights)]) / total
    starts, ends = monotonic(edges[:-1].tolist(), edges[1:].tolist())
    return CharAlignment(chars, starts, ends, source=ESTIMATE)


def place(
    alignment: CharAlignment, *, offset: int, span: tuple[int, int], sample_rate: int
) -> tuple[list[float], list[float]]:
    """A chunk's character times on the job's timeline (seconds).

    `offset` is the output sample where the chunk's own first sample landed; times are clamped
    into the chunk's `span` from the joiner, so no character leaves its sentence.
    """
    low, high = span[0] / sample_rate, span[1] / sample_rate
    shift = offset / sample_rate
    starts = [min(max(t + shift, low), high) for t in alignment.starts]
    ends = [min(max(t + shift, low), high) for t in alignment.ends]
    return monotonic(starts, ends)


# --- the stored document ---------------------------------------------------------------------
@dataclass
class ChunkTimings:
    """One chunk on the job's timeline, as stored (and as sent to streams)."""

    index: int
    text: str
    text_offset: int
    start_sample: int
    end_sample: int
    samples: int
    source: str
    characters: list[str]
    starts: list[float]
    ends: list[float]

    def to_dict(self, sample_rate: int) -> dict:
        return {
            "index": self.index,
            "text": self.text,
            "text_offset": self.text_offset,
            "start": round(self.start_sample / sample_rate, 6),
            "end": round(self.end_sample / sample_rate, 6),
            "start_sample": self.start_sample,
            "end_sample": self.end_sample,
            "samples": self.samples,
            "source": self.source,
            "characters": self.characters,
            "starts": [round(t, 6) for t in self.starts],
            "ends": [round(t, 6) for t in self.ends],
        }


def chunk_offsets(normalized: str, texts: list[str]) -> list[int]:
    """Where each chunk's text starts in the job's normalised text (split_text keeps order)."""
    flat, offsets, position = normalized.replace("\n", " "), [], 0
    for text in texts:
        found = flat.find(text, position)
        if found < 0:  # cannot happen for split_text's chunks; stay monotonic regardless
            found = position
        offsets.append(found)
        position = found + len(text)
    return offsets


def timings_document(
    *, chunks: list[ChunkTimings], text: str, sample_rate: int, total_samples: int
) -> dict:
    """The JSON stored beside a job's audio: chunks with character times, and words."""
    rendered = [chunk.to_dict(sample_rate) for chunk in chunks]
    return {
        "version": TIMINGS_VERSION,
        "sample_rate": sample_rate,
        "duration": round(total_samples / sample_rate, 6),
        "text": text,
        "chunks": rendered,
        "words": words_of(rendered),
    }


def words_of(chunks: list[dict]) -> list[dict]:
    """Words (runs of non-space characters holding a letter or digit) with start/end seconds,
    taken from their first and last characters."""
    words = []
    for chunk in chunks:
        chars, starts, ends = chunk["characters"], chunk["starts"], chunk["ends"]
        index = 0
        while index < len(chars):
            if chars[index].isspace():
                index += 1
                continue
            begin = index
            while index < len(chars) and not chars[index].isspace():
                index += 1
            word = "".join(chars[begin:index])
            if any(c.isalnum() for c in word):
                words.append(
                    {
                        "word": word,
                        "start": round(starts[begin], 3),
                        "end": round(ends[index - 1], 3),
                        "chunk": chunk["index"],
                    }
                )
    return words


def full_text_alignment(document: dict) -> tuple[str, list[float], list[float]]:
    """(normalised text, starts, ends) over the job's whole normalised text: chunk characters
    keep their times; characters between chunks (spaces, paragraph breaks, unspoken marks) take
    the gap between the chunk before and the chunk after."""
    text = document["text"]
    starts, ends = [None] * len(text), [None] * len(text)
    for chunk in document["chunks"]:
        offset = chunk["text_offset"]
        for i, (start, end) in enumerate(zip(chunk["starts"], chunk["ends"], strict=True)):
            if offset + i < len(text):
                starts[offset + i], ends[offset + i] = start, end
    following, next_start = [0.0] * len(text), document["duration"]
    for i in range(len(text) - 1, -1, -1):  # the next timed character's start, for the gaps
        following[i] = next_start
        if starts[i] is not None:
            next_start = starts[i]
    previous_end = 0.0
    for i in range(len(text)):
        if starts[i] is None:
            starts[i], ends[i] = previous_end, max(previous_end, following[i])
        previous_end = ends[i]
    fixed_starts, fixed_ends = monotonic(starts, ends)
    return text, fixed_starts, fixed_ends


def document_from_events(events: list[dict], *, normalized: str, duration: float) -> dict:
    """A timings document (chunks only) from a stream's alignment events."""
    chunks = [
        {
            "index": event["chunk"],
            "text_offset": event["text_offset"],
            "source": event["source"],
            "characters": event["characters"],
            "starts": event["starts"],
            "ends": event["ends"],
        }
        for event in events
        if event.get("type") == "alignment"
    ]
    return {"version": TIMINGS_VERSION, "duration": duration, "text": normalized, "chunks": chunks}


def original_text_alignment(document: dict, original: str) -> tuple[list[float], list[float]]:
    """Times over the text as the client sent it (before normalisation)."""
    text, starts, ends = full_text_alignment(document)
    return project_times(text, starts, ends, original)


def estimated_document(*, chunks, normalized: str, duration: float, pauses: list[float]) -> dict:
    """Timings of a job that did not ask for them, from its text and duration alone (cheap: the
    audio is not decoded). Chunks share the duration, less the paragraph pauses, by the weight
    of their characters, and each chunk by the estimate's weights. Boundaries are estimated
    too, unlike the stored timings of a job made with `timestamps`."""
    weights = [sum(char_weight(c) for c in chunk.text) or 1.0 for chunk in chunks]
    speaking = max(duration - sum(pauses), 0.0)
    total = sum(weights)
    offsets = chunk_offsets(normalized, [chunk.text for chunk in chunks])
    rendered, position = [], 0.0
    for chunk, weight, pause, offset in zip(chunks, weights, pauses, offsets, strict=True):
        length = speaking * weight / total
        chars = list(chunk.text)
        cw = np.array([char_weight(c) for c in chars]) + 1e-9
        edges = position + length * np.concatenate([[0.0], np.cumsum(cw)]) / float(cw.sum())
        starts, ends = monotonic(edges[:-1].tolist(), edges[1:].tolist())
        rendered.append(
            {
                "index": chunk.index,
                "text": chunk.text,
                "text_offset": offset,
                "start": position,
                "end": position + length,
                "source": ESTIMATE,
                "characters": chars,
                "starts": starts,
                "ends": ends,
            }
        )
        position += length + pause
    return {
        "version": TIMINGS_VERSION,
        "duration": duration,
        "text": normalized,
        "chunks": rendered,
        "words": words_of(rendered),
    }


# --- captions ----------------------------------------------------------------------------------
CUE_MAX_CHARACTERS = 84
CUE_MAX_SECONDS = 6.0


def caption_cues(words: list[dict]) -> list[tuple[float, float, str]]:
    """(start, end, text) cues: words grouped up to CUE_MAX_CHARACTERS / CUE_MAX_SECONDS, never
    across a chunk (sentence) boundary; cues do not overlap."""
    cues, current = [], []

    def close() -> None:
        if current:
            text = " ".join(w["word"] for w in current)
            cues.append((current[0]["start"], current[-1]["end"], text))
            current.clear()

    for word in words:
        if current:
            longer = len(" ".join(w["word"] for w in current)) + 1 + len(word["word"])
            if (
                word.get("chunk") != current[0].get("chunk")
                or longer > CUE_MAX_CHARACTERS
                or word["end"] - current[0]["start"] > CUE_MAX_SECONDS
            ):
                close()
        current.append(word)
    close()
    fixed, floor = [], 0.0
    for start, end, text in cues:
        start = max(start, floor)
        end = max(end, start + 0.001)
        fixed.append((start, end, text))
        floor = end
    return fixed


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def webvtt(words: list[dict]) -> str:
    lines = ["WEBVTT", ""]
    for start, end, text in caption_cues(words):
        escaped = _cue_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines += [f"{_clock(start, '.')} --> {_clock(end, '.')}", escaped, ""]
    return "\n".join(lines)


def srt(words: list[dict]) -> str:
    lines = []
    for number, (start, end, text) in enumerate(caption_cues(words), start=1):
        lines += [str(number), f"{_clock(start, ',')} --> {_clock(end, ',')}", _cue_text(text), ""]
    return "\n".join(lines)


def _cue_text(text: str) -> str:
    # "-->" would end a WebVTT cue's timing line early; a blank line would end the cue.
    return text.replace("-->", "→").replace("\n", " ")


# --- collecting a job's timings while it renders (worker side) -------------------------------
class JobTimeline:
    """Each chunk's character times placed on the job's timeline, as the pipeline joins it.

    `chunk_done` is called after a chunk's audio went through the joiner; with a stream
    `channel` the chunk's timings are pushed at once (the span's end taken as the join the next
    chunk will make). `document` gives the stored JSON once the joiner has finished.
    """

    def __init__(self, *, normalized: str, chunks, joiner, sample_rate: int, channel=None):
        self.normalized = normalized
        self.offsets = chunk_offsets(normalized, [chunk.text for chunk in chunks])
        self.joiner, self.sample_rate, self.channel = joiner, sample_rate, channel
        self.last_index = len(chunks) - 1
        self.pending: list[tuple] = []  # (chunk, alignment, span index, raw samples)

    def chunk_done(self, chunk, audio: np.ndarray, alignment: CharAlignment | None, *, pause: bool):
        if alignment is None:
            alignment = estimate(audio, self.sample_rate, chunk.text)
        elif alignment.characters != list(chunk.text):
            starts, ends = project_times(
                "".join(alignment.characters), alignment.starts, alignment.ends, chunk.text
            )
            alignment = CharAlignment(list(chunk.text), starts, ends, source=alignment.source)
        # The joiner opens one span per chunk; a chunk that yielded no audio at all has none.
        span_index = len(self.pending) if len(self.joiner.spans) > len(self.pending) else -1
        self.pending.append((chunk, alignment, span_index, int(audio.size)))
        if self.channel is not None:
            end = None
            if not pause and chunk.index != self.last_index:
                end = self.joiner.join_point_if_continued()
            timed = self._timed(chunk, alignment, span_index, int(audio.size), end=end)
            self.channel.push_alignment(
                {
                    "type": "alignment",
                    "chunk": chunk.index,
                    "characters": timed.characters,
                    "starts": timed.starts,
                    "ends": timed.ends,
                    "source": timed.source,
                    "text_offset": timed.text_offset,
                }
            )

    def _timed(self, chunk, alignment, span_index, samples, *, end=None) -> ChunkTimings:
        if 0 <= span_index < len(self.joiner.spans):
            span = list(self.joiner.spans[span_index])
            origin = self.joiner.origins[span_index]
        else:  # no audio: an empty span where the previous chunk ended
            previous = self.joiner.spans[-1][1] if self.joiner.spans else 0
            span, origin = [previous, previous], previous
        if end is not None:
            span[1] = max(span[0], end)
        starts, ends = place(
            alignment, offset=origin, span=tuple(span), sample_rate=self.sample_rate
        )
        return ChunkTimings(
            index=chunk.index,
            text=chunk.text,
            text_offset=self.offsets[chunk.index],
            start_sample=span[0],
            end_sample=span[1],
            samples=samples,
            source=alignment.source,
            characters=list(alignment.characters),
            starts=starts,
            ends=ends,
        )

    def document(self, total_samples: int) -> dict:
        chunks = [self._timed(*entry) for entry in self.pending]
        return timings_document(
            chunks=chunks,
            text=self.normalized,
            sample_rate=self.sample_rate,
            total_samples=total_samples,
        )
