"""Carrying audio from a synthesis worker to the web process while it is generated.

The web process never runs the engine, so a streaming request becomes a job that a synthesis
worker runs through the engine's streaming path, pushing raw float32 pieces into a channel the
web process reads and encodes into the HTTP response. With Redis configured the channel is a
Redis list (works across hosts); on the single-machine defaults it is a folder of numbered
files in the data directory.

Besides audio, a job made with timestamps sends one event per chunk after that chunk's audio:
`{"type": "alignment", "chunk", "characters", "starts", "ends", "source", "text_offset"}` (times
in seconds from the job's first sample; characters of the normalised chunk text; text_offset
where the chunk starts in the job's normalised text). Redis: a `b"M"` + JSON message (like the
end); files: `{seq:08d}.evt` holding the JSON, numbered in the same sequence as the audio.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

END = "end"
ERROR = "error"
ALIGNMENT = "alignment"
# A stream nobody reads is dropped after this long.
CHANNEL_TTL_SECONDS = 600


class StreamFailed(Exception):
    """The worker reported a failure; the message is safe to show a user."""


class StreamTimeout(Exception):
    """Nothing arrived in time (no synthesis worker picked the job up, or it stalled)."""


def channel_for(code: str):
    if settings.REDIS_URL:
        return RedisChannel(code)
    return FileChannel(code)


class RedisChannel:
    def __init__(self, code: str):
        import redis

        self.key = f"timbre:stream:{code}"
        self.client = redis.Redis.from_url(settings.REDIS_URL)

    def push(self, data: bytes) -> None:
        self._send(b"A" + data)

    def push_alignment(self, event: dict) -> None:
        self._send(b"M" + json.dumps(event).encode())

    def end(self, error: str | None = None) -> None:
        payload = {"type": ERROR, "message": error} if error else {"type": END}
        self._send(b"M" + json.dumps(payload).encode())

    def _send(self, message: bytes) -> None:
        pipe = self.client.pipeline()
        pipe.rpush(self.key, message)
        pipe.expire(self.key, CHANNEL_TTL_SECONDS)
        pipe.execute()

    def read(
        self, *, first_timeout: float, idle_timeout: float, events: bool = False
    ) -> Iterator[bytes | dict]:
        """Audio bytes until the end; with `events`, alignment event dicts among them."""
        deadline = time.monotonic() + first_timeout
        try:
            while True:
                # Short blocking pops: redis-py's socket timeout would cut a long BLPOP.
                item = self.client.blpop([self.key], timeout=1)
                if item is None:
                    if time.monotonic() > deadline:
                        raise StreamTimeout
                    continue
                message = item[1]
                if message[:1] == b"A":
                    yield message[1:]
                    deadline = time.monotonic() + idle_timeout
                    continue
                payload = json.loads(message[1:])
                if payload.get("type") == ALIGNMENT:
                    if events:
                        yield payload
                    continue
                _raise_or_stop(payload)
                return
        finally:
            self.client.delete(self.key)


class FileChannel:
    """Numbered files, each written to a temporary name and renamed, so a reader never sees
    half a piece."""

    def __init__(self, code: str):
        self.dir = Path(settings.DATA_DIR) / "streams" / code
        self.seq = 0

    def push(self, data: bytes) -> None:
        self._write(f"{self.seq:08d}.pcm", data)
        self.seq += 1

    def push_alignment(self, event: dict) -> None:
        self._write(f"{self.seq:08d}.evt", json.dumps(event).encode())
        self.seq += 1

    def end(self, error: str | None = None) -> None:
        payload = {"type": ERROR, "message": error} if error else {"type": END}
        self._write(f"{self.seq:08d}.end", json.dumps(payload).encode())

    def _write(self, name: str, data: bytes) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.dir / name)

    def read(
        self, *, first_timeout: float, idle_timeout: float, events: bool = False
    ) -> Iterator[bytes | dict]:
        """Audio bytes until the end; with `events`, alignment event dicts among them."""
        seq, deadline = 0, time.monotonic() + first_timeout
        try:
            while True:
                piece, end = self.dir / f"{seq:08d}.pcm", self.dir / f"{seq:08d}.end"
                event = self.dir / f"{seq:08d}.evt"
                if piece.exists():
                    yield piece.read_bytes()
                    seq, deadline = seq + 1, time.monotonic() + idle_timeout
                elif event.exists():
                    if events:
                        yield json.loads(event.read_bytes())
                    seq, deadline = seq + 1, time.monotonic() + idle_timeout
                elif end.exists():
                    _raise_or_stop(json.loads(end.read_bytes()))
                    return
                elif time.monotonic() > deadline:
                    raise StreamTimeout
                else:
                    time.sleep(0.02)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _raise_or_stop(message: dict) -> None:
    if message.get("type") == ERROR:
        raise StreamFailed(message.get("message") or "Synthesis failed.")


def stream_encoded(
    code: str,
    *,
    fmt: str,
    sample_rate_in: int,
    sample_rate_out: int | None = None,
    bitrate: int | None = None,
    first_timeout: float = 120.0,
    idle_timeout: float = 120.0,
) -> Iterator[bytes]:
    """Encoded audio of a streamed job as the worker produces it (for a streaming response).

    The first piece is awaited before anything is yielded, so a caller can turn an early
    StreamFailed / StreamTimeout into a proper error response by calling `next()` first. FLAC
    yields once, the whole file after the last piece, so that its header carries the length.
    """
    from synthesis.jobs.encoding import StreamEncoder

    pieces = channel_for(code).read(first_timeout=first_timeout, idle_timeout=idle_timeout)
    encoder = StreamEncoder(
        fmt, sample_rate_in=sample_rate_in, sample_rate_out=sample_rate_out, bitrate=bitrate
    )
    import numpy as np

    try:
        for data in pieces:
            out = encoder.feed(np.frombuffer(data, dtype="<f4"))
            if out:
                yield out
        tail = encoder.close()
        if tail:
            yield tail
    finally:
        encoder.abort()


def collect_encoded(
    code: str,
    *,
    fmt: str,
    sample_rate_in: int,
    sample_rate_out: int | None = None,
    bitrate: int | None = None,
    first_timeout: float = 120.0,
    idle_timeout: float = 120.0,
) -> tuple[bytes, list[dict], int]:
    """The whole encoded audio of a streamed job, its alignment events and its length in
    samples (at `sample_rate_in`), once it ended.

    Raises StreamFailed / StreamTimeout (nothing is returned for a failed job).
    """
    import numpy as np

    from synthesis.jobs.encoding import StreamEncoder

    encoder = StreamEncoder(
        fmt, sample_rate_in=sample_rate_in, sample_rate_out=sample_rate_out, bitrate=bitrate
    )
    audio, events, samples = [], [], 0
    try:
        reader = channel_for(code).read(
            first_timeout=first_timeout, idle_timeout=idle_timeout, events=True
        )
        for item in reader:
            if isinstance(item, dict):
                events.append(item)
                continue
            pcm = np.frombuffer(item, dtype="<f4")
            samples += pcm.size
            out = encoder.feed(pcm)
            if out:
                audio.append(out)
        tail = encoder.close()
        if tail:
            audio.append(tail)
    finally:
        encoder.abort()
    return b"".join(audio), events, samples
