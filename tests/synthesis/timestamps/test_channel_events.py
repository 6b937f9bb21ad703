"""Alignment events travel in the stream channel between audio pieces, in order; readers that
did not ask for events get the audio bytes only, as before."""

from __future__ import annotations

import json

from synthesis.jobs.streaming import FileChannel

EVENT = {
    "type": "alignment",
    "chunk": 0,
    "characters": ["H", "i"],
    "starts": [0.0, 0.1],
    "ends": [0.1, 0.2],
    "source": "estimate",
    "text_offset": 0,
}


def fill(code: str) -> None:
    channel = FileChannel(code)
    channel.push(b"\x00" * 8)
    channel.push_alignment(EVENT)
    channel.push(b"\x01" * 4)
    channel.end()


def test_file_channel_keeps_events_in_sequence(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    fill("with-events")
    folder = tmp_path / "streams" / "with-events"
    assert sorted(p.name for p in folder.iterdir()) == [
        "00000000.pcm",
        "00000001.evt",
        "00000002.pcm",
        "00000003.end",
    ]
    assert json.loads((folder / "00000001.evt").read_bytes()) == EVENT
    items = list(FileChannel("with-events").read(first_timeout=5, idle_timeout=5, events=True))
    assert items == [b"\x00" * 8, EVENT, b"\x01" * 4]


def test_plain_readers_get_audio_only(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    fill("plain")
    items = list(FileChannel("plain").read(first_timeout=5, idle_timeout=5))
    assert items == [b"\x00" * 8, b"\x01" * 4]
