"""A failure the request caused is one warning line in the worker's log, never an ERROR with a
traceback; an internal failure still logs its traceback. The worker logs through the same
handler as the web (request id included, carried from the request that queued the task)."""

from __future__ import annotations

import logging
import re

import pytest
from django.db import transaction

from config.logs import request_id_var
from synthesis.engines import runtime
from synthesis.jobs import runner, services
from synthesis.models import SynthesisJob
from tests.synthesis.api_helpers import make_ready_voice
from tests.synthesis.support import wait_for, wait_job


def _job_with(owner, voice, **changes) -> SynthesisJob:
    """A job accepted normally, then changed the way no request could make it (as if the
    engine's facts changed between the request and the worker)."""
    job = services.job_create(owner=owner, voice=voice, text="Hello there.", language="en")
    SynthesisJob.objects.filter(pk=job.pk).update(**changes)
    return job


@pytest.mark.django_db
def test_a_user_caused_failure_is_one_warning_line(owner, caplog, monkeypatch):
    monkeypatch.setattr("config.queueing.task_send", lambda name, **kw: True)
    voice = make_ready_voice(owner, "Toy", engine="toy")
    job = _job_with(owner, voice, params={"speed": 9})  # out of the engine's range

    with caplog.at_level(logging.DEBUG):
        runner.job_run(job_id=job.pk, worker="test")

    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.FAILED
    assert job.error.startswith("The request could not be synthesized:") and "speed" in job.error
    ours = [r for r in caplog.records if r.name == "synthesis.jobs.runner"]
    assert [(r.levelname, r.exc_info, r.exc_text) for r in ours] == [("WARNING", None, None)]
    assert str(job.code) in ours[0].getMessage() and "speed" in ours[0].getMessage()
    assert "\n" not in ours[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db
def test_an_internal_failure_still_logs_an_error_with_its_traceback(owner, caplog, monkeypatch):
    monkeypatch.setattr("config.queueing.task_send", lambda name, **kw: True)
    voice = make_ready_voice(owner, "Toy", engine="toy")
    job = _job_with(owner, voice)
    engine = runtime.engine_get("toy")

    def broken(*args, **kwargs):
        raise RuntimeError("the engine's own bug")

    monkeypatch.setattr(engine, "synthesize", broken)
    monkeypatch.setattr(engine, "stream", broken)
    with caplog.at_level(logging.DEBUG):
        runner.job_run(job_id=job.pk, worker="test")

    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.FAILED
    assert "internal error" in job.error and "bug" not in job.error
    (record,) = [r for r in caplog.records if r.name == "synthesis.jobs.runner"]
    assert record.levelname == "ERROR"
    assert "Traceback" in caplog.text and "RuntimeError: the engine's own bug" in caplog.text


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_logs_an_unsupported_language_as_one_warning(owner, celery_worker):
    voice = make_ready_voice(owner, "Narrator", language="en")  # an XTTS voice
    token = request_id_var.set("req-worker-log-1")  # as if a request queued the job
    try:
        with transaction.atomic():  # sent on commit: after the change below
            job = _job_with(owner, voice, language="xx")
    finally:
        request_id_var.reset(token)
    job = wait_job(job, timeout=120)
    assert job.status == SynthesisJob.Status.FAILED, job.error
    assert "does not speak 'xx'" in job.error

    marker = f"Synthesis job {job.code} failed"

    def task_ended():  # the job is failed a moment before its task returns and is logged
        lines = celery_worker.log().splitlines()
        at = next((i for i, line in enumerate(lines) if marker in line), None)
        ended = at is not None and any(
            "synthesis.tasks.synthesize[" in line and " succeeded " in line for line in lines[at:]
        )
        return ended and (lines, at)

    lines, at = wait_for(task_ended, timeout=30, what="the task's end in the worker log")
    about_job = [line for line in lines if str(job.code) in line]
    assert about_job == [lines[at]]  # one line about the job
    assert re.search(
        r" WARNING synthesis\.jobs\.runner \[req-worker-log-1\] Synthesis job \S+ failed "
        r"\(the request was refused\): XTTS does not speak 'xx'$",
        lines[at],
    ), lines[at]
    # No traceback after it, and Celery logged no "raised" error: the task returned normally.
    assert "Traceback" not in "\n".join(lines[at + 1 : at + 3])
    synthesize = [line for line in lines[at:] if "synthesis.tasks.synthesize[" in line]
    assert not [line for line in synthesize if " raised " in line or " ERROR " in line]
