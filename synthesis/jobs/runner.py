"""Running a job in a synthesis worker: claim it, render it, end it (the `synthesize` task).

Worker side only. The pipeline reports progress through a callback, so that rendering knows
nothing of how a job's state is stored; every state change goes through `jobs.services`.
"""

from __future__ import annotations

import logging
import time

from django.core.files.storage import default_storage

from synthesis.jobs import services
from synthesis.jobs.pipeline import JobCancelled, render_job, user_facing_error

logger = logging.getLogger(__name__)


def job_run(*, job_id: int, worker: str) -> None:
    """Run a job end to end in this worker (the `synthesize` task's body). Idempotent."""
    job = services.job_claim(job_id=job_id, worker=worker)
    if job is None:
        logger.info("Job %s is not ours to run (finished, cancelled or running elsewhere).", job_id)
        return
    started = time.monotonic()
    try:
        audio_name, audio_seconds = render_job(
            job, progress=lambda done: services.job_progress(job=job, chunks_done=done)
        )
    except JobCancelled:
        if services.job_finish_cancelled(job=job):  # not when another worker took the job over
            services.job_stream_end(job, error="The job was cancelled.")
        return
    except Exception as exc:  # a job must end failed with a reason, never stuck running
        logger.exception("Synthesis job %s failed", job.code)
        error = user_facing_error(exc)
        if services.job_fail(job=job, error=error, compute_seconds=time.monotonic() - started):
            services.job_stream_end(job, error=error)
        return
    if not services.job_succeed(
        job=job,
        audio_name=audio_name,
        audio_seconds=audio_seconds,
        compute_seconds=time.monotonic() - started,
    ):
        default_storage.delete(audio_name)  # cancelled at the very end: keep nothing
