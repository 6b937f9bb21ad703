"""A synthesis worker with SYNTHESIS_SCHEDULER on: a real `--pool threads` worker process on the
tiny XTTS checkpoint, whose one engine thread batches the chunks of several users' jobs.

The session worker (`celery_worker`) also consumes `synthesis.xtts`; for this module it is told
(Celery remote control) to stop, so that the jobs here run in the scheduler worker, and it gets
the queue back at the end. The one-job reference of the equality test runs on it.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import uuid
import wave

import numpy as np
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import override_settings

from accounts.usage import usage_summary
from config.celery import app as celery_app
from config.celery import engine_queue
from synthesis.jobs import services
from synthesis.jobs.recovery import outbox_sweep
from synthesis.models import EngineStatusRecord, SynthesisJob
from synthesis.workers.process import celery_worker_command
from tests.factories import UserFactory
from tests.faults.support import kill9
from tests.support.waiting import wait_for
from tests.synthesis.support import make_job, voice_built_by_worker, wait_job
from tests.workers import WorkerProcess, database_url, purge_queues

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUEUE = engine_queue("xtts")
THREADS = 8
# One chunk per paragraph: a 100-chunk "book" of short chunks, cheap at 12 tokens a chunk.
BOOK = "\n\n".join(f"Paragraph number {n} of the book." for n in range(1, 101))
SHORT = "A short request."


class SchedulerWorker(WorkerProcess):
    """WorkerProcess on the threads pool, with the scheduler on, consuming `synthesis.xtts`."""

    def __init__(self, *, log_dir, xtts_dir):
        self.name = f"serving-{uuid.uuid4().hex[:8]}@%h"
        self.log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "XTTS_MODEL_DIR": str(xtts_dir),
            "TIMBRE_DEVICE": "cpu",
            "TIMBRE_WORKER_ENGINES": "xtts",
            "SYNTHESIS_SCHEDULER": "1",
            "SYNTHESIS_JOB_THREADS": str(THREADS),
            "SYNTHESIS_HEARTBEAT_SECONDS": "1",
        }
        cmd = celery_worker_command(
            queues=(QUEUE,), name=self.name, concurrency=THREADS, pool="threads"
        )
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
        )

    @property
    def hostname(self) -> str:
        return self.name.replace("%h", socket.gethostname())


def _hostname(worker: WorkerProcess) -> str:
    return worker.name.replace("%h", socket.gethostname())


def _consume(worker: WorkerProcess, *, on: bool) -> None:
    """Make `worker` start or stop consuming the XTTS queue, and wait for its answer."""
    command = celery_app.control.add_consumer if on else celery_app.control.cancel_consumer
    replies = command(QUEUE, destination=[_hostname(worker)], reply=True, timeout=15)
    assert replies, f"{_hostname(worker)} did not answer the remote control"


@pytest.fixture(scope="module")
def serving(django_db_blocker, celery_worker, tmp_path_factory, xtts_tiny_dir):
    """The scheduler worker, ready, alone on `synthesis.xtts` (the session worker steps aside)."""
    with django_db_blocker.unblock():
        _consume(celery_worker, on=False)
        purge_queues(QUEUE)
        worker = SchedulerWorker(log_dir=tmp_path_factory.mktemp("serving"), xtts_dir=xtts_tiny_dir)
        try:
            worker.wait_ready()
            prefix = worker.hostname.split("@")[0] + "@"

            def loaded():
                return EngineStatusRecord.objects.filter(
                    hostname__startswith=prefix, engine="xtts", ready=True
                ).exists()

            wait_for(loaded, timeout=240, what="the scheduler worker's engine to load")
            yield worker
        finally:
            worker.stop()
            _consume(celery_worker, on=True)


@pytest.fixture
def two_users(celery_worker, tmp_path):
    """Two users with a voice each, built by the session worker (the `synthesis` queue)."""
    alice = UserFactory(email=f"alice-{uuid.uuid4().hex[:6]}@example.com")
    bob = UserFactory(email=f"bob-{uuid.uuid4().hex[:6]}@example.com")
    voices = [
        voice_built_by_worker(celery_worker, user, tmp_path, name=name, language="en")
        for user, name in ((alice, "Alice"), (bob, "Bob"))
    ]
    return (alice, voices[0]), (bob, voices[1])


def _steps(log: str) -> list[tuple[set[str], set[str]]]:
    """(job ids, user ids) of each engine step the worker logged."""
    return [
        (set(jobs.split(",")), set(users.split(",")))
        for jobs, users in re.findall(r"Engine step: .*?; jobs (\S+); users (\S+)", log)
    ]


def _running(job: SynthesisJob, *, chunks: int = 1):
    def check():
        job.refresh_from_db()
        assert not job.is_terminal, (job.status, job.error)
        return job.status == SynthesisJob.Status.RUNNING and job.chunks_done >= chunks

    return check


def _samples(job: SynthesisJob) -> np.ndarray:
    with (
        default_storage.open(job.audio.name, "rb") as stored,
        wave.open(io.BytesIO(stored.read())) as wav,
    ):
        assert wav.getsampwidth() == 2
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768


def _assert_charged_once(job: SynthesisJob, user) -> None:
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert job.quota_state == SynthesisJob.QuotaState.SETTLED
    usage = usage_summary(user=user)
    assert usage["characters"]["used"] == job.characters
    assert usage["concurrent_jobs"]["in_use"] == 0


def test_two_users_share_batches_and_a_short_job_passes_a_book(serving, two_users):
    (alice, alice_voice), (bob, bob_voice) = two_users
    book = make_job(alice, alice_voice, BOOK, output_format="wav")
    wait_for(_running(book, chunks=2), timeout=120, what="the book to start")
    short = make_job(bob, bob_voice, SHORT, output_format="wav")
    wait_job(short, timeout=120)
    book.refresh_from_db()
    assert short.status == SynthesisJob.Status.SUCCEEDED, short.error
    # Bob did not wait for the 100-chunk book: it was still running when his job ended.
    assert book.status == SynthesisJob.Status.RUNNING, (book.status, book.chunks_done)
    assert book.chunks_done < book.chunks_total == 100
    shared = [
        step
        for step in _steps(serving.log())
        if {str(book.pk), str(short.pk)} <= step[0] and {str(alice.pk), str(bob.pk)} <= step[1]
    ]
    assert shared, serving.log()[-3000:]  # one batch held both users' chunks
    wait_job(book, timeout=300)
    _assert_charged_once(book, alice)
    _assert_charged_once(short, bob)


def test_batched_audio_equals_the_one_job_path(serving, celery_worker, two_users):
    (alice, alice_voice), (bob, bob_voice) = two_users
    text = "The first sentence.\n\nThe second one.\n\nAnd a third."
    # The reference: the session worker, scheduler off, the job alone.
    _consume(serving, on=False)
    _consume(celery_worker, on=True)
    try:
        alone = wait_job(make_job(alice, alice_voice, text, output_format="wav"), timeout=120)
    finally:
        _consume(celery_worker, on=False)
        _consume(serving, on=True)
    assert alone.status == SynthesisJob.Status.SUCCEEDED, alone.error
    assert alone.worker.startswith(_hostname(celery_worker)), alone.worker
    # The same job (same seed) in the scheduler worker, sharing its batches with Bob's book.
    book = make_job(bob, bob_voice, BOOK, output_format="wav")
    wait_for(_running(book), timeout=120, what="Bob's book to start")
    batched = wait_job(make_job(alice, alice_voice, text, output_format="wav"), timeout=120)
    assert batched.status == SynthesisJob.Status.SUCCEEDED, batched.error
    assert batched.worker.startswith(serving.hostname), batched.worker
    assert any(str(batched.pk) in jobs and len(jobs) > 1 for jobs, _ in _steps(serving.log()))
    reference, shared = _samples(alone), _samples(batched)
    assert reference.shape == shared.shape
    assert np.abs(reference - shared).max() <= 1e-4
    services.job_cancel(job=book, user=bob)
    wait_job(book, timeout=120)


def test_a_job_cancelled_inside_a_batch_is_refunded_and_the_other_goes_on(serving, two_users):
    (alice, alice_voice), (bob, bob_voice) = two_users
    book = make_job(alice, alice_voice, BOOK, output_format="wav")
    other = make_job(bob, bob_voice, BOOK[: len(BOOK) // 4], output_format="wav")
    wait_for(_running(book, chunks=2), timeout=120, what="the book to start")
    wait_for(_running(other), timeout=120, what="the other job to start")
    services.job_cancel(job=book, user=alice)
    wait_job(book, timeout=120)
    assert book.status == SynthesisJob.Status.CANCELLED
    assert book.quota_state == SynthesisJob.QuotaState.REFUNDED
    assert usage_summary(user=alice)["characters"]["used"] == 0
    assert book.chunks_done < book.chunks_total
    wait_job(other, timeout=300)
    _assert_charged_once(other, bob)
    assert other.chunks_done == other.chunks_total


def test_a_killed_scheduler_worker_loses_no_job(serving, celery_worker, two_users):
    """Last in the module: the scheduler worker dies (SIGKILL) with two jobs in its batches;
    the sweeper re-queues them and the session worker finishes them, each charged once."""
    (alice, alice_voice), (bob, bob_voice) = two_users
    jobs = [
        make_job(alice, alice_voice, BOOK[: len(BOOK) // 2], output_format="wav"),
        make_job(bob, bob_voice, BOOK[: len(BOOK) // 2], output_format="wav"),
    ]
    for job in jobs:
        wait_for(_running(job), timeout=120, what=f"job {job.pk} to start")
    kill9(serving.proc.pid)
    serving.proc.wait(10)
    _consume(celery_worker, on=True)
    with override_settings(SYNTHESIS_STALE_SECONDS=3, OUTBOX_GRACE_SECONDS=1):

        def ended():
            outbox_sweep()
            for job in jobs:
                job.refresh_from_db()
            return all(job.is_terminal for job in jobs)

        wait_for(ended, timeout=300, interval=2, what="the jobs of the killed worker to end")
    for job, user in zip(jobs, (alice, bob), strict=True):
        _assert_charged_once(job, user)
        assert job.attempts == 2
        assert job.worker.startswith(_hostname(celery_worker))
