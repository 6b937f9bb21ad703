"""How stream-input text is cut into generations, and how alignment events become ElevenLabs'
per-message alignments (synthesis.compat.stream_text; no server)."""

from __future__ import annotations

from synthesis.compat.stream_text import AlignmentTimeline, TextBuffer


def _fed(buffer: TextBuffer, *pieces: str) -> list[str]:
    out = []
    for piece in pieces:
        buffer.add(piece)
        while (segment := buffer.take()) is not None:
            out.append(segment)
    return out


def test_the_schedule_decides_when_and_no_word_is_split():
    buffer = TextBuffer(schedule=(50, 60))
    assert _fed(buffer, "word " * 9) == []  # 45 characters: below the first entry
    assert _fed(buffer, "another ") == ["word " * 9 + "another "]
    assert _fed(buffer, "x" * 30, " and more words follow here ", "until sixty") == [
        "x" * 30 + " and more words follow here until "  # 69 of 60: cut after the last space
    ]
    assert buffer.text == "sixty"
    assert buffer.take(force=True) == "sixty" and buffer.text == ""


def test_the_last_entry_repeats_and_punctuation_waits_for_words():
    buffer = TextBuffer(schedule=(50,))
    assert len(_fed(buffer, "a b " * 13, "c d " * 13)) == 2
    buffer.add(" ... ")
    assert buffer.take(force=True) is None  # nothing to speak: kept for the next words
    buffer.add("yes.")
    assert buffer.take(force=True) == " ... yes."


def test_auto_mode_speaks_each_sentence_as_it_ends():
    buffer = TextBuffer(auto_mode=True)
    assert _fed(buffer, "Hi. How are", " you? I am") == ["Hi. ", "How are you? "]
    assert buffer.text == "I am"


def test_one_endless_word_is_cut_at_the_stream_limit(settings):
    settings.SYNTHESIS_STREAM_MAX_CHARACTERS = 100
    buffer = TextBuffer(schedule=(50,))
    assert _fed(buffer, "a" * 250) == ["a" * 100, "a" * 100]
    assert buffer.text == "a" * 50


def _event(characters: str, starts: list[float], ends: list[float]) -> dict:
    return {"type": "alignment", "characters": list(characters), "starts": starts, "ends": ends}


def test_alignments_follow_the_previous_end_and_add_up_to_the_timeline():
    timeline = AlignmentTimeline()
    timeline.add(_event("Hi.", [0.1, 0.2, 0.3], [0.2, 0.3, 0.4]))
    first = timeline.take()
    assert first["chars"] == ["H", "i", "."]
    assert first["charStartTimesMs"] == [100, 200, 300]
    assert first["charDurationsMs"] == first["charsDurationsMs"] == [100, 100, 100]
    timeline.job_offset = 1.0  # the first job's audio lasted one second
    timeline.add(_event("Yo", [0.05, 0.15], [0.15, 0.25]))
    second = timeline.take()
    # A space between the jobs' trimmed texts, then times after the first message's end (0.4 s).
    assert second["chars"] == [" ", "Y", "o"]
    assert second["charStartTimesMs"] == [650, 650, 750]
    assert second["charDurationsMs"] == [0, 100, 100]
    assert timeline.take() is None
    # A client adding each message's last end to a running total gets the connection's times.
    total = first["charStartTimesMs"][-1] + first["charDurationsMs"][-1]
    assert total + second["charStartTimesMs"][1] == 1050  # "Y" at 1.0 s + 0.05 s
