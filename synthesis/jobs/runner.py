"""Running a job in a synthesis worker: claim it, render it, end it (the `synthesize` task).

Worker side only. The pipeline reports progress through a callback, so that rendering knows
nothing of how a job's state is stored; every state change goes through `jobs.services`.

While a job renders, a thread writes its heartbeat every SYNTHESIS_HEARTBEAT_SECONDS, however
long one chunk takes: a job whose heartbeat stops lost its worker, and is taken over by a
redelivery or by the outbox sweeper (`synthesis.jobs.recovery`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from synthesis.jobs import services
from synthesis.jobs.pipeline import JobCancelled, is_user_error, render_job, user_facing_error
from synthesis.models import SynthesisJob
from voices.selectors import voice_blocked_error
from voices.services.conditioning import ConditioningUnreadable, voice_rebuild_request

logger = logging.getLogger(__name__)

VOICE_UNREADABLE_ERROR = (
    "This voice's stored model could not be read (the file is missing or damaged). It is being "
    "rebuilt from its samples; your characters were refunded. Try again in a few minutes."
)


@contextlib.contextmanager
def heartbeat(job: SynthesisJob) -> Iterator[threading.Event]:
    """Write the job's heartbeat from a thread until the block ends. The block gets an Event
    that is set once the job is no longer this worker's (the scheduler then drops its rows).

    With SYNTHESIS_SCHEDULER on, a dead engine thread, or one that made no step for
    SYNTHESIS_STALE_SECONDS, stops the beats: the sweeper then takes the job over."""
    stop = threading.Event()
    lost = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.SYNTHESIS_HEARTBEAT_SECONDS):
                if settings.SYNTHESIS_SCHEDULER and not _serving_healthy():
                    logger.error("Job %s: the engine thread is dead or stuck", job.code)
                    continue  # no beat: once stale, the sweeper takes the job over
                try:
                    if not services.job_heartbeat(job=job):
                        lost.set()
                        return  # no longer ours: progress() will stop the rendering
                except Exception:  # the database blinked: try again next beat
                    logger.warning("Heartbeat of job %s failed", job.code, exc_info=True)
                    close_old_connections()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{job.pk}", daemon=True)
    thread.start()
    try:
        yield lost
    finally:
        stop.set()
        thread.join(timeout=30)


def _serving_healthy() -> bool:
    from synthesis.serving.registry import serving_healthy

    return serving_healthy(stale_seconds=settings.SYNTHESIS_STALE_SECONDS)


def _db(call, /, **kwargs):
    """Run a state change, once more on a fresh connection if the database dropped this one
    (a restarted PostgreSQL, a terminated backend): a job must not be lost to a blip."""
    try:
        return call(**kwargs)
    except (OperationalError, InterfaceError):
        logger.warning("Database connection lost; reconnecting", exc_info=True)
        connection.close()
        return call(**kwargs)


def job_run(*, job_id: int, worker: str) -> None:
    """Run a job end to end in this worker (the `synthesize` task's body). Idempotent."""
    job = _db(services.job_claim, job_id=job_id, worker=worker)
    if job is None:
        logger.info("Job %s is not ours to run (finished, cancelled or running elsewhere).", job_id)
        return
    if job.cancel_requested:  # cancelled while its previous worker was dying
        if _db(services.job_finish_cancelled, job=job):
            services.job_stream_end(job, error="The job was cancelled.")
        return
    started = time.monotonic()
    if job.voice is not None and job.voice.blocked_at is not None:
        # Blocked while the job waited in the queue: it ends failed and refunded, unrun.
        _fail(job, voice_blocked_error(job.voice).message, started)
        return
    try:
        with heartbeat(job) as lost:
            audio_name, audio_seconds = render_job(
                job,
                progress=lambda done: _db(services.job_progress, job=job, chunks_done=done),
                cancelled=lost,
            )
    except JobCancelled:
        if _db(services.job_finish_cancelled, job=job):  # not when another worker took it over
            services.job_stream_end(job, error="The job was cancelled.")
        return
    except ConditioningUnreadable as exc:
        logger.warning("Job %s: %s", job.code, exc)
        if job.voice_id:
            _db(voice_rebuild_request, voice_id=job.voice_id, reason=str(exc), engine=job.engine)
        _fail(job, VOICE_UNREADABLE_ERROR, started)
        return
    except Exception as exc:  # a job must end failed with a reason, never stuck running
        if is_user_error(exc):  # the request's fault: one line, no traceback
            logger.warning(
                "Synthesis job %s failed (the request was refused): %s",
                job.code,
                " ".join(str(exc).split()),
            )
        else:
            logger.exception("Synthesis job %s failed", job.code)
        _fail(job, user_facing_error(exc), started)
        return
    if not _db(
        services.job_succeed,
        job=job,
        audio_name=audio_name,
        audio_seconds=audio_seconds,
        compute_seconds=time.monotonic() - started,
    ):
        default_storage.delete(audio_name)  # cancelled at the very end: keep nothing


def _fail(job: SynthesisJob, error: str, started: float) -> None:
    if _db(services.job_fail, job=job, error=error, compute_seconds=time.monotonic() - started):
        services.job_stream_end(job, error=error)
