"""Reading a stream job's channel on an event loop (ASGI), without holding a thread.

synthesis.jobs.streaming carries a job's audio from the synthesis worker to the web process:
a Redis list (`b"A"` + float32 samples, `b"M"` + JSON for end / error / alignment) or, on the
single-machine defaults, a folder of numbered files (`.pcm`, `.evt`, `.end`). Its readers block;
under uvicorn one blocked reader per listener would be one thread per listener. Here the same
channels are read with `redis.asyncio` (short BLPOPs) or by polling the folder with
`asyncio.sleep`, and the blocking ffmpeg encoder runs in short `asyncio.to_thread` calls.

- `channel_events(code)`: raw pieces (bytes) and alignment events (dicts), in channel order.
- `EncodedStream(code, ...)`: the same, encoded for the listener; counts the audio read.
- `encoded_events_blocking(code, ...)`: the same for a WSGI server (gunicorn, the tests'
  live_server), on the channel's own blocking reader.

Alignment events (only for jobs created with timestamps=True) look like
`{"type": "alignment", "chunk", "characters", "starts", "ends", "source", "text_offset"}`, with
times in seconds from the start of the job's audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
from django.conf import settings

from synthesis.jobs.streaming import END, ERROR, StreamFailed, StreamTimeout, channel_for

FILE_POLL_SECONDS = 0.02


def _finished(message: dict) -> bool:
    """True at the end of the stream (raising for a failure); False for an event to pass on."""
    kind = message.get("type")
    if kind == ERROR:
        raise StreamFailed(message.get("message") or "Synthesis failed.")
    return kind == END


async def channel_events(
    code: str, *, first_timeout: float, idle_timeout: float
) -> AsyncIterator[bytes | dict]:
    """Raw float32 pieces (bytes) and events (dicts) of a stream job, as the worker sends them.

    Raises StreamTimeout when nothing arrives in time, StreamFailed when the worker reports a
    failure. The channel is deleted when the reader stops, however it stops.
    """
    reader = _redis_events if settings.REDIS_URL else _file_events
    async for item in reader(code, first_timeout=first_timeout, idle_timeout=idle_timeout):
        yield item


async def _redis_events(code, *, first_timeout, idle_timeout):
    import redis.asyncio as aredis

    key = f"timbre:stream:{code}"  # synthesis.jobs.streaming.RedisChannel's key
    client = aredis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + first_timeout
    try:
        while True:
            # Short blocking pops, as the blocking reader does (a socket timeout cuts long ones).
            item = await client.blpop([key], timeout=1)
            if item is None:
                if time.monotonic() > deadline:
                    raise StreamTimeout
                continue
            message, deadline = item[1], time.monotonic() + idle_timeout
            if message[:1] == b"A":
                yield message[1:]
                continue
            payload = json.loads(message[1:])
            if _finished(payload):
                return
            yield payload
    finally:
        with contextlib.suppress(Exception):  # cleanup: the TTL drops it anyway
            await asyncio.shield(client.delete(key))
        with contextlib.suppress(Exception):
            await client.aclose()


async def _file_events(code, *, first_timeout, idle_timeout):
    folder = Path(settings.DATA_DIR) / "streams" / code
    seq, deadline = 0, time.monotonic() + first_timeout
    try:
        while True:
            name = folder / f"{seq:08d}"
            piece, event, end = (name.with_suffix(s) for s in (".pcm", ".evt", ".end"))
            if piece.exists():
                yield piece.read_bytes()
            elif event.exists():
                yield json.loads(event.read_bytes())
            elif end.exists():
                if _finished(json.loads(end.read_bytes())):
                    return
            elif time.monotonic() > deadline:
                raise StreamTimeout
            else:
                await asyncio.sleep(FILE_POLL_SECONDS)
                continue
            seq, deadline = seq + 1, time.monotonic() + idle_timeout
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class EncodedStream:
    """A stream job's audio encoded for the listener (bytes), with its alignment events (dicts)
    when `events=True`, as an async iterator.

    `seconds` counts the audio read so far (before encoding), so a caller can place what it
    sends on its own timeline. FLAC comes whole at the end (its header carries the length).
    Stopping early (break, aclose, a cancelled task) kills ffmpeg and deletes the channel.
    """

    def __init__(
        self,
        code: str,
        *,
        fmt: str,
        sample_rate_in: int,
        sample_rate_out: int | None = None,
        bitrate: int | None = None,
        first_timeout: float = 120.0,
        idle_timeout: float = 120.0,
        events: bool = False,
    ):
        self.code, self.events = code, events
        self.sample_rate_in = sample_rate_in
        self.encoder_options = {
            "sample_rate_in": sample_rate_in,
            "sample_rate_out": sample_rate_out,
            "bitrate": bitrate,
        }
        self.fmt = fmt
        self.timeouts = {"first_timeout": first_timeout, "idle_timeout": idle_timeout}
        self.seconds = 0.0

    def __aiter__(self) -> AsyncIterator[bytes | dict]:
        return self._run()

    async def _run(self):
        from synthesis.jobs.encoding import StreamEncoder

        # Checked options, an ffmpeg started: quick, but a subprocess start blocks.
        encoder = await asyncio.to_thread(StreamEncoder, self.fmt, **self.encoder_options)
        try:
            async for item in channel_events(self.code, **self.timeouts):
                if isinstance(item, dict):
                    if self.events:
                        yield item
                    continue
                samples = np.frombuffer(item, dtype="<f4")
                self.seconds += len(samples) / self.sample_rate_in
                out = await asyncio.to_thread(encoder.feed, samples)
                if out:
                    yield out
            tail = await asyncio.to_thread(encoder.close)
            if tail:
                yield tail
        finally:
            encoder.abort()


def encoded_events_blocking(
    code: str,
    *,
    fmt: str,
    sample_rate_in: int,
    sample_rate_out: int | None = None,
    bitrate: int | None = None,
    first_timeout: float = 120.0,
    idle_timeout: float = 120.0,
) -> Iterator[bytes | dict]:
    """EncodedStream(events=True) for a WSGI server: encoded bytes and alignment dicts."""
    from synthesis.jobs.encoding import StreamEncoder

    items = channel_for(code).read(
        first_timeout=first_timeout, idle_timeout=idle_timeout, events=True
    )
    encoder = StreamEncoder(
        fmt, sample_rate_in=sample_rate_in, sample_rate_out=sample_rate_out, bitrate=bitrate
    )
    try:
        for item in items:
            if isinstance(item, dict):
                yield item
                continue
            out = encoder.feed(np.frombuffer(item, dtype="<f4"))
            if out:
                yield out
        tail = encoder.close()
        if tail:
            yield tail
    finally:
        items.close()
        encoder.abort()
