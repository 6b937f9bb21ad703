"""Turning a job's text into one stored audio file, chunk by chunk (worker side).

Audio is never held whole in memory: a book is hours of audio. Each generated chunk goes
through the crossfading joiner and is appended as raw samples to a temporary file (and, for
streamed jobs, pushed to the stream channel); ffmpeg then encodes that file into the requested
format with complete headers, and the result is saved through the storage API.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile

from provenance.hooks import mark_audio, output_finished
from synthesis.engines import runtime
from synthesis.engines.base import CharAlignment, EngineUnavailable, job_rows
from synthesis.jobs.alignment import JobTimeline
from synthesis.jobs.checks import job_engine_facts
from synthesis.jobs.joining import PARAGRAPH_PAUSE_MS
from synthesis.jobs.streaming import channel_for
from synthesis.jobs.text import Chunk, normalize_text, split_text
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


def render_job(
    job: SynthesisJob,
    *,
    progress: Callable[[int], bool],
    cancelled: threading.Event | None = None,
) -> tuple[str, float]:
    """Synthesize, join and encode the job's text; return (storage name, audio seconds).

    `progress(chunks_done)` is called after each chunk; when it answers False (the job was
    cancelled or taken over) rendering stops with JobCancelled. With SYNTHESIS_SCHEDULER on,
    the engine's scheduler drops the job's queued rows once `cancelled` is set.
    """
    from synthesis.jobs.encoding import FORMATS, check_options, encode_raw_file
    from synthesis.jobs.joining import Joiner

    if job.voice is None:
        raise ValueError("the voice of this job was deleted")
    # The engine the job was accepted for, with that engine's own stored conditioning.
    facts = job_engine_facts(job)
    engine = runtime.engine_get(facts.name)
    conditioning = conditioning_load(job.voice, facts.name)
    params = facts.params_complete(job.params)
    check_options(
        fmt=job.output_format, sample_rate_in=engine.sample_rate, sample_rate_out=job.sample_rate
    )
    chunks = split_text(job.text, language=job.language, limit=engine.char_limit(job.language))
    SynthesisJob.objects.filter(pk=job.pk).update(chunks_total=len(chunks))
    job.chunks_total = len(chunks)

    joiner = Joiner(sample_rate=engine.sample_rate)
    channel = channel_for(str(job.code)) if job.stream else None
    timeline = None
    if job.timestamps:
        timeline = JobTimeline(
            normalized=normalize_text(job.text),
            chunks=chunks,
            joiner=joiner,
            sample_rate=engine.sample_rate,
            channel=channel,
        )
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
                joiner=joiner,
                progress=progress,
                channel=channel,
                timeline=timeline,
                cancelled=cancelled or threading.Event(),
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
        output_finished(out_path, job=job)  # content credentials and the generation registry
        with out_path.open("rb") as out:
            job.audio.save(out_path.name, File(out), save=False)
    if timeline is not None:
        _timings_save(job, timeline.document(samples))
    return job.audio.name, samples / engine.sample_rate


def _timings_save(job: SynthesisJob, document: dict) -> None:
    """Store the job's timings file and record it on the row (before the job succeeds, so
    the finished job never lacks them)."""
    job.timings.save("timings.json", ContentFile(json.dumps(document).encode()), save=False)
    SynthesisJob.objects.filter(pk=job.pk).update(timings=job.timings.name)


def _generate_into(
    raw,
    *,
    job,
    engine,
    chunks,
    conditioning,
    params,
    joiner,
    progress,
    channel,
    timeline,
    cancelled,
) -> int:
    """Generate every chunk, join and append raw float32 to `raw`; return the sample count.

    Streamed jobs go chunk by chunk through the engine's streaming path and also push each
    piece to the job's stream channel; others are generated in batches. Progress is saved
    after each chunk; a cancelled job stops before the next one. With a `timeline` (jobs
    with timestamps) each chunk's timings are collected, and pushed after its audio.
    """
    samples = 0
    if settings.SYNTHESIS_SCHEDULER and timeline is None:
        chunk_audio = _scheduled_audio(job, engine, chunks, conditioning, params, cancelled)
    else:
        chunk_audio = _chunk_audio(job, engine, chunks, conditioning, params, timeline is not None)
    for done, (chunk, pieces, told) in enumerate(chunk_audio, start=1):
        pause = PARAGRAPH_PAUSE_MS if chunk.paragraph_end else SENTENCE_PAUSE_MS
        spoken = []
        for first, last, audio in pieces:
            if not engine.watermarks_itself:
                audio = mark_audio(audio, sample_rate=engine.sample_rate, engine=engine.name)
            piece = joiner.add_piece(audio, chunk_start=first, chunk_end=last, pause_ms=pause)
            samples += _emit(raw, channel, piece)
            if timeline is not None:
                spoken.append(np.asarray(audio, dtype=np.float32))
        if timeline is not None:
            audio = np.concatenate(spoken) if spoken else np.zeros(0, dtype=np.float32)
            timeline.chunk_done(chunk, audio, told.get("alignment"), pause=pause > 0)
        if not progress(done):
            cancelled.set()
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


def _chunk_audio(job, engine, chunks, conditioning, params, aligned: bool):
    """Yield (chunk, pieces, told) in order; pieces are (is_first, is_last, audio) of that
    chunk, and `told["alignment"]` holds the engine's CharAlignment (if it gave one) once the
    pieces are consumed. Engines are asked for alignments only when `aligned`."""
    if job.stream:
        stream = engine.stream_aligned if aligned else engine.stream
        for chunk in chunks:
            told: dict = {}
            pieces = stream(
                text=chunk.text, language=job.language, conditioning=conditioning, params=params
            )
            yield chunk, _flagged(_audio_only(pieces, told)), told
        return
    for batch in _batches(chunks, max(1, engine.max_batch_size)):
        kwargs = {
            "texts": [chunk.text for chunk in batch],
            "language": job.language,
            "conditioning": conditioning,
            "params": params,
        }
        if aligned:
            results = engine.synthesize_aligned(**kwargs)
        else:
            results = ((audio, None) for audio in engine.synthesize(**kwargs))
        for chunk, (audio, alignment) in zip(batch, results, strict=True):
            yield chunk, [(True, True, audio)], {"alignment": alignment}


def _scheduled_audio(job, engine, chunks, conditioning, params, cancelled: threading.Event):
    """What `_chunk_audio` yields, served by the engine's scheduler (SYNTHESIS_SCHEDULER):
    the job's chunks become rows that share the engine thread's batches with other jobs'.
    Each chunk is one piece; a set `cancelled` drops the job's rows at the next step."""
    from synthesis.serving.jobs import JobCancelled as RowsCancelled
    from synthesis.serving.registry import scheduler_for

    rows = job_rows(
        [chunk.text for chunk in chunks],
        language=job.language,
        conditioning=conditioning,
        params=params,
    )
    handle = scheduler_for(engine.name).submit(
        job.pk, job.owner_id, rows, stream=bool(job.stream), cancelled=cancelled.is_set
    )
    try:
        for chunk, audio in zip(chunks, handle, strict=True):
            yield chunk, [(True, True, audio)], {"alignment": None}
    except RowsCancelled:
        raise JobCancelled from None
    finally:
        handle.cancel()  # a no-op once every row was delivered


def _audio_only(pieces, told: dict):
    """The audio pieces of a stream; a CharAlignment among them is put in `told`."""
    for piece in pieces:
        if isinstance(piece, CharAlignment):
            told["alignment"] = piece
        else:
            yield piece


def _flagged(pieces):
    """(is_first, is_last, piece) for each piece of an iterator, looking one piece ahead."""
    iterator = iter(pieces)
    current = next(iterator, None)
    first = True
    while current is not None:
        following = next(iterator, None)
        yield first, following is None, current
        first, current = False, following
