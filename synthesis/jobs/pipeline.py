"""Turning a job's text into one stored audio file, chunk by chunk (worker side).

Audio is never held whole in memory: a book is hours of audio. Each generated chunk goes
through the crossfading joiner and is appended as raw samples to a temporary file (and, for
streamed jobs, pushed to the stream channel); ffmpeg then encodes that file into the requested
format with complete headers, and the result is saved through the storage API.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from django.core.files import File

from synthesis.engines import runtime
from synthesis.engines.base import EngineUnavailable
from synthesis.jobs.checks import voice_engine
from synthesis.jobs.joining import PARAGRAPH_PAUSE_MS
from synthesis.jobs.streaming import channel_for
from synthesis.jobs.text import Chunk, split_text
from synthesis.models import SynthesisJob
from voices.services.conditioning import conditioning_load

# Sentences of one paragraph are crossfaded into each other; paragraphs get a pause.
SENTENCE_PAUSE_MS = 0


class JobCancelled(Exception):
    """The job was cancelled (or taken over) between two chunks."""


def user_facing_error(exc: Exception) -> str:
    """A message a user can act on; never a traceback."""
    if isinstance(exc, EngineUnavailable):
        return f"The speech engine is unavailable: {exc.reason} Fix: {exc.fix}"
    if _is_out_of_memory(exc):
        return (
            "The speech engine ran out of memory even at the smallest batch size; "
            "try a shorter text or ask the operator for a worker with more memory."
        )
    from synthesis.jobs.encoding import EncodingError

    if isinstance(exc, EncodingError):
        return f"Encoding the audio failed: {exc}"
    if isinstance(exc, ValueError):
        return f"The request could not be synthesized: {exc}"
    return "Synthesis failed because of an internal error; the operator can find it in the logs."


def is_user_error(exc: Exception) -> bool:
    """Whether the request itself made the job fail (a language the engine does not speak, a
    text or option it refuses, a voice it cannot use): the engines and the checks raise
    ValueError for those. The worker then logs one warning line, not an error with a traceback;
    anything else is the operator's to look into."""
    return isinstance(exc, ValueError) and not _is_out_of_memory(exc)


def _is_out_of_memory(exc: Exception) -> bool:
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


def _batches(chunks: list[Chunk], size: int) -> Iterator[list[Chunk]]:
    for start in range(0, len(chunks), size):
        yield chunks[start : start + size]


def render_job(job: SynthesisJob, *, progress: Callable[[int], bool]) -> tuple[str, float]:
    """Synthesize, join and encode the job's text; return (storage name, audio seconds).

    `progress(chunks_done)` is called after each chunk; when it answers False (the job was
    cancelled or taken over) rendering stops with JobCancelled.
    """
    from synthesis.jobs.encoding import FORMATS, check_options, encode_raw_file
    from synthesis.jobs.joining import Joiner

    if job.voice is None:
        raise ValueError("the voice of this job was deleted")
    engine = runtime.engine_get(voice_engine(job.voice).name)
    conditioning = conditioning_load(job.voice)
    params = voice_engine(job.voice).params_complete(job.params)
    check_options(
        fmt=job.output_format, sample_rate_in=engine.sample_rate, sample_rate_out=job.sample_rate
    )
    chunks = split_text(job.text, language=job.language, limit=engine.char_limit(job.language))
    SynthesisJob.objects.filter(pk=job.pk).update(chunks_total=len(chunks))
    job.chunks_total = len(chunks)

    with tempfile.TemporaryDirectory(prefix="timbre-job-") as tmp:
        raw_path = Path(tmp) / "audio.f32"
        with raw_path.open("wb") as raw:
            samples = _generate_into(
                raw,
                job=job,
                engine=engine,
                chunks=chunks,
                conditioning=conditioning,
                params=params,
                joiner=Joiner(sample_rate=engine.sample_rate),
                progress=progress,
            )
        audio_format = FORMATS[job.output_format]
        out_path = Path(tmp) / f"audio.{audio_format.extension}"
        encode_raw_file(
            raw_path,
            out_path,
            sample_rate_in=engine.sample_rate,
            fmt=job.output_format,
            sample_rate_out=job.sample_rate,
            bitrate=job.bitrate,
        )
        with out_path.open("rb") as out:
            job.audio.save(out_path.name, File(out), save=False)
    return job.audio.name, samples / engine.sample_rate


def _generate_into(raw, *, job, engine, chunks, conditioning, params, joiner, progress) -> int:
    """Generate every chunk, join and append raw float32 to `raw`; return the sample count.

    Streamed jobs go chunk by chunk through the engine's streaming path and also push each
    piece to the job's stream channel; others are generated in batches. Progress is saved
    after each chunk; a cancelled job stops before the next one.
    """
    channel = channel_for(str(job.code)) if job.stream else None
    samples = 0
    for done, (chunk, pieces) in enumerate(
        _chunk_audio(job, engine, chunks, conditioning, params), start=1
    ):
        pause = PARAGRAPH_PAUSE_MS if chunk.paragraph_end else SENTENCE_PAUSE_MS
        for first, last, audio in pieces:
            piece = joiner.add_piece(audio, chunk_start=first, chunk_end=last, pause_ms=pause)
            samples += _emit(raw, channel, piece)
        if not progress(done):
            raise JobCancelled
    samples += _emit(raw, channel, joiner.finish())
    if channel is not None:
        channel.end()  # failures and cancellations end the stream in runner.job_run
    return samples


def _emit(raw, channel, piece) -> int:
    data = piece.astype("<f4").tobytes()
    raw.write(data)
    if channel is not None and piece.size:
        channel.push(data)
    return piece.size


def _chunk_audio(job, engine, chunks, conditioning, params):
    """Yield (chunk, pieces) in order; pieces are (is_first, is_last, audio) of that chunk."""
    if job.stream:
        for chunk in chunks:
            yield (
                chunk,
                _flagged(
                    engine.stream(
                        text=chunk.text,
                        language=job.language,
                        conditioning=conditioning,
                        params=params,
                    )
                ),
            )
        return
    for batch in _batches(chunks, max(1, engine.max_batch_size)):
        audio_iter = engine.synthesize(
            texts=[chunk.text for chunk in batch],
            language=job.language,
            conditioning=conditioning,
            params=params,
        )
        for chunk, audio in zip(batch, audio_iter, strict=True):
            yield chunk, [(True, True, audio)]


def _flagged(pieces):
    """(is_first, is_last, piece) for each piece of an iterator, looking one piece ahead."""
    iterator = iter(pieces)
    current = next(iterator, None)
    first = True
    while current is not None:
        following = next(iterator, None)
        yield first, following is None, current
        first, current = False, following
