"""Character timings inside one synthesized chunk, as an engine can tell them.

Pure Python + numpy (no torch, no Django), shared by the engines and by the job pipeline's
estimate (synthesis.jobs.alignment). Times are seconds from the chunk's own first sample.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

ENGINE = "engine"
ESTIMATE = "estimate"


@dataclass(frozen=True)
class CharAlignment:
    """When each character of a chunk's text is spoken, in seconds from the chunk's start.

    `characters` are the chunk's text exactly as given to the engine, one string per code point;
    `starts`/`ends` are non-decreasing and `starts[i] <= ends[i]`. `source` says whether the
    engine itself told ("engine") or the times were estimated from the audio ("estimate").
    """

    characters: list[str]
    starts: list[float]
    ends: list[float]
    source: str = ENGINE

    def __post_init__(self) -> None:
        if not len(self.characters) == len(self.starts) == len(self.ends):
            raise ValueError("characters, starts and ends must have the same length")


def monotonic_path(scores: np.ndarray) -> np.ndarray:
    """The token each frame attends to, along the best monotonic path (Viterbi).

    `scores` is [frames, tokens] of non-negative attention weights. The path starts at token 0,
    ends at the last token and moves by 0 or 1 token per frame, maximising the summed log
    weights: every token gets at least one frame when there are at least as many frames as
    tokens. With fewer frames, tokens are spread evenly instead (nothing better is known).
    """
    scores = np.asarray(scores, dtype=np.float64)
    frames, tokens = scores.shape
    if frames == 0 or tokens == 0:
        return np.zeros(frames, dtype=np.int64)
    if frames < tokens:
        return np.floor(np.arange(frames) * tokens / frames).astype(np.int64)
    logp = np.log(np.clip(scores, 1e-9, None))
    best = np.full((frames, tokens), -np.inf)
    moved = np.zeros((frames, tokens), dtype=bool)
    best[0, 0] = logp[0, 0]
    for frame in range(1, frames):
        stay = best[frame - 1]
        step = np.concatenate([[-np.inf], best[frame - 1, :-1]])
        moved[frame] = step > stay
        best[frame] = np.maximum(stay, step) + logp[frame]
    path = np.zeros(frames, dtype=np.int64)
    token = tokens - 1
    for frame in range(frames - 1, -1, -1):
        path[frame] = token
        if frame and moved[frame, token]:
            token -= 1
    return path


def spans_from_path(path: np.ndarray, tokens: int) -> list[tuple[int, int]]:
    """(first frame, end frame) of each token along a monotonic path; a skipped token gets an
    empty span where it would have been."""
    spans, frame = [], 0
    for token in range(tokens):
        start = frame
        while frame < len(path) and path[frame] == token:
            frame += 1
        spans.append((start, frame))
    return spans


def spread_over_characters(
    pieces: list[str], spans: list[tuple[float, float]]
) -> tuple[str, list[float], list[float]]:
    """Each piece's time span divided evenly over its characters: (text, starts, ends)."""
    text, starts, ends = [], [], []
    for piece, (start, end) in zip(pieces, spans, strict=True):
        step = (end - start) / len(piece) if piece else 0.0
        for index, char in enumerate(piece):
            text.append(char)
            starts.append(start + index * step)
            ends.append(start + (index + 1) * step)
    return "".join(text), starts, ends


def project_times(
    source: str, starts: list[float], ends: list[float], target: str
) -> tuple[list[float], list[float]]:
    """Carry character times from `source` onto `target`, a differently normalised spelling of
    the same words (case, expanded numbers, dropped punctuation).

    Characters that match keep their times; a replaced run shares the time of what it replaced;
    characters with no counterpart get a zero-length time where they fall. Result is monotonic.
    """
    if not target:
        return [], []
    if not source:
        return [0.0] * len(target), [0.0] * len(target)
    out_starts, out_ends = [0.0] * len(target), [0.0] * len(target)
    matcher = difflib.SequenceMatcher(None, source.lower(), target.lower(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "delete":
            continue
        if tag == "equal":
            out_starts[j1:j2], out_ends[j1:j2] = starts[i1:i2], ends[i1:i2]
            continue
        if tag == "replace":
            begin, finish = starts[i1], ends[i2 - 1]
        else:  # insert: nothing spoken for these, put them at the seam
            begin = finish = ends[i1 - 1] if i1 > 0 else starts[0]
        step = (finish - begin) / (j2 - j1)
        for offset in range(j2 - j1):
            out_starts[j1 + offset] = begin + offset * step
            out_ends[j1 + offset] = begin + (offset + 1) * step
    return monotonic(out_starts, out_ends)


def monotonic(starts: list[float], ends: list[float]) -> tuple[list[float], list[float]]:
    """Make starts and ends non-decreasing with start <= end (running maximum)."""
    fixed_starts, fixed_ends, floor = [], [], 0.0
    for start, end in zip(starts, ends, strict=True):
        start = max(start, floor)
        end = max(end, start)
        fixed_starts.append(start)
        fixed_ends.append(end)
        floor = end
    return fixed_starts, fixed_ends
