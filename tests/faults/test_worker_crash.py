"""A synthesis worker that dies mid-job: the job still ends, once, with one charge.

Real processes on real brokers (a redis-server of the test's own, and RabbitMQ): the engine is
the tiny XTTS checkpoint, which takes several seconds to load, far past Celery's default wait for
a new pool process; that is what used to take the synthesis service down after one crash.
"""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from accounts.usage import usage_summary
from synthesis.jobs.recovery import outbox_sweep
from synthesis.models import SynthesisJob
from tests.faults.support import kill9, pool_children, start_worker
from tests.support.waiting import wait_for
from tests.synthesis.support import make_job, voice_built_by_worker, wait_job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONG_TEXT = " ".join(f"This is sentence number {n} of a long text." for n in range(1, 25))


def _started(job: SynthesisJob):
    def check():
        job.refresh_from_db()
        return job.status == SynthesisJob.Status.RUNNING and job.chunks_done >= 1

    return check


def _assert_ended_once(job: SynthesisJob, owner) -> None:
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert job.quota_state == SynthesisJob.QuotaState.SETTLED
    usage = usage_summary(user=owner)
    assert usage["characters"]["used"] == job.characters  # charged once, not per attempt
    assert usage["concurrent_jobs"]["in_use"] == 0  # the slot is back
    assert job.audio and job.audio_bytes > 44


def test_a_killed_pool_process_is_replaced_and_the_job_reruns(
    owner, broker, tmp_path, xtts_tiny_dir, capsys
):
    worker = start_worker(tmp_path, broker.url, xtts_tiny_dir)
    try:
        voice = voice_built_by_worker(worker, owner, tmp_path, name="Crash", language="en")
        job = make_job(owner, voice, LONG_TEXT, output_format="wav")
        wait_for(_started(job), timeout=180, what="the job to start")
        [child] = pool_children(worker)
        killed = time.monotonic()
        kill9(child)
        wait_job(job, timeout=300)
        seconds = time.monotonic() - killed
        log = worker.log()
        _assert_ended_once(job, owner)
        assert job.attempts == 2, log[-3000:]
        assert "Timed out waiting for UP message" not in log
        assert pool_children(worker) and pool_children(worker) != [child]
        with capsys.disabled():
            print(
                f"\n[figure] {broker.kind}: kill -9 of the pool process -> "
                f"job done in {seconds:.1f} s"
            )
    finally:
        worker.stop()


def test_a_killed_worker_is_recovered_after_a_restart(
    owner, broker, tmp_path, xtts_tiny_dir, capsys
):
    worker = start_worker(tmp_path, broker.url, xtts_tiny_dir)
    voice = voice_built_by_worker(worker, owner, tmp_path, name="Whole", language="en")
    job = make_job(owner, voice, LONG_TEXT, output_format="wav")
    try:
        wait_for(_started(job), timeout=180, what="the job to start")
        killed = time.monotonic()
        for pid in [*pool_children(worker), worker.proc.pid]:
            kill9(pid)
        worker.proc.wait(10)
    finally:
        worker.stop()
    # The job is stranded `running` until someone notices: a new worker on the same host (the
    # message comes back at once on RabbitMQ) or the sweeper once the heartbeat is stale (Redis
    # keeps the message for its visibility timeout).
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.RUNNING
    replacement = start_worker(tmp_path, broker.url, xtts_tiny_dir)
    try:
        with override_settings(SYNTHESIS_STALE_SECONDS=8, OUTBOX_GRACE_SECONDS=1):

            def ended():
                outbox_sweep()
                job.refresh_from_db()
                return job.is_terminal

            wait_for(ended, timeout=300, interval=2, what="the stranded job to end")
        seconds = time.monotonic() - killed
        _assert_ended_once(job, owner)
        assert job.attempts == 2, replacement.log()[-3000:]
        with capsys.disabled():
            print(
                f"\n[figure] {broker.kind}: kill -9 of the whole worker, restart -> "
                f"job done in {seconds:.1f} s"
            )
    finally:
        replacement.stop()
