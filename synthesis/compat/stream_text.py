"""The text side of the WebSocket stream-input (synthesis.compat.stream_input), without I/O:
how buffered text is cut into generations, and how the jobs' alignment events become
ElevenLabs' per-message alignments."""

from __future__ import annotations

from django.conf import settings

DEFAULT_SCHEDULE = (120, 160, 250, 290)
SCHEDULE_RANGE = (50, 500)
SENTENCE_ENDS = (". ", "! ", "? ", ".\n", "!\n", "?\n")


class TextBuffer:
    """The text received and not yet spoken, cut into generations by the schedule."""

    def __init__(self, *, schedule=DEFAULT_SCHEDULE, auto_mode=False):
        self.text, self.schedule, self.auto_mode = "", tuple(schedule), auto_mode
        self.generations = 0

    def add(self, text: str) -> None:
        self.text += text

    def take(self, *, force: bool = False) -> str | None:
        """The next text to speak, or None while the buffer should keep filling."""
        limit = settings.SYNTHESIS_STREAM_MAX_CHARACTERS
        if force:
            cut = len(self.text)
        elif self.auto_mode:
            end = max(self.text.rfind(end) for end in SENTENCE_ENDS)
            cut = end + 2 if end >= 0 else 0
        else:
            need = self.schedule[min(self.generations, len(self.schedule) - 1)]
            cut = _last_space(self.text) + 1 if len(self.text) >= need else 0
        if len(self.text) > limit and cut == 0:  # one endless word: cut it anyway
            cut = limit
        if cut > limit:
            cut = _last_space(self.text[:limit]) + 1 or limit
        taken = self.text[:cut]
        if not any(ch.isalnum() for ch in taken):
            return None  # only spaces or punctuation: they go out with the next words
        self.text = self.text[cut:]
        self.generations += 1
        return taken


def _last_space(text: str) -> int:
    return max(text.rfind(" "), text.rfind("\n"))


class AlignmentTimeline:
    """Turns the job's alignment events (seconds from the job's start) into ElevenLabs'
    per-message alignment: milliseconds after the previous alignment's last character."""

    def __init__(self):
        self.job_offset = 0.0  # seconds of audio sent before the running job's
        self.last_end_ms = 0
        self.last_char = " "
        self.pending: list[dict] = []

    def add(self, event: dict) -> None:
        self.pending.append(event)

    def take(self) -> dict | None:
        if not self.pending:
            return None
        chars, starts, durations = [], [], []
        base = end_ms = self.last_end_ms
        for event in self.pending:
            for char, start, end in spaced(event, after=self.last_char):
                start_ms = max(round((self.job_offset + start) * 1000), end_ms)
                end_ms = max(round((self.job_offset + end) * 1000), start_ms)
                chars.append(char)
                starts.append(start_ms - base)
                durations.append(end_ms - start_ms)
                self.last_char = char
        self.pending, self.last_end_ms = [], end_ms
        return {
            "chars": chars,
            "charStartTimesMs": starts,
            "charDurationsMs": durations,
            "charsDurationsMs": durations,
        }


def spaced(event: dict, *, after: str) -> list[tuple[str, float, float]]:
    """(character, start, end) of an alignment event, with a space (of no duration) in front
    when it follows a character other than a space: chunks and jobs are trimmed texts, and
    clients find words by the spaces between them."""
    triples = list(zip(event["characters"], event["starts"], event["ends"], strict=False))
    if triples and not after.isspace() and not triples[0][0].isspace():
        first_start = triples[0][1]
        triples.insert(0, (" ", first_start, first_start))
    return triples
