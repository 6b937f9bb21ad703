"""PostgreSQL drops the worker's connections mid-job (its backends are terminated): the job
still ends, once."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.usage import usage_summary
from synthesis.models import SynthesisJob
from tests.support.waiting import wait_for
from tests.synthesis.support import make_job, voice_built_by_worker, wait_job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TEXT = " ".join(f"Sentence {n} keeps the worker busy for a while." for n in range(1, 16))


def _terminate_other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_terminated_database_connections_do_not_strand_a_job(owner, celery_worker, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("terminating server backends is a PostgreSQL fault")
    voice = voice_built_by_worker(celery_worker, owner, tmp_path, name="Drop", language="en")
    job = make_job(owner, voice, TEXT, output_format="wav")

    def started():
        job.refresh_from_db()
        return job.status == SynthesisJob.Status.RUNNING and job.chunks_done >= 1

    wait_for(started, timeout=180, what="the job to start")
    assert _terminate_other_backends() >= 1  # the worker's connection(s)
    wait_job(job, timeout=300)
    assert job.status == SynthesisJob.Status.SUCCEEDED, (job.error, celery_worker.log()[-3000:])
    assert job.attempts == 1  # no re-run was needed: the worker reconnected
    usage = usage_summary(user=owner)
    assert usage["characters"]["used"] == job.characters
    assert usage["concurrent_jobs"]["in_use"] == 0
