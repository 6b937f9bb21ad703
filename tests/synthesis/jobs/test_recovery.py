"""The outbox sweeper and the crash rules of the job lifecycle, without a worker: rows in the
states a crash or an outage leaves them, then one sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.usage import usage_summary
from config import queueing
from synthesis.jobs import recovery, services
from synthesis.models import SynthesisJob, WebhookDelivery
from tests.support.tasks import task_spy
from tests.voices.helpers import make_ready_voice
from voices.models import Consent, Sample, Voice

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(hours=1)


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "Anna")


def _job(owner, voice, **fields) -> SynthesisJob:
    with task_spy("synthesis.tasks.synthesize"):
        job = services.job_create(owner=owner, voice=voice, text="Hello there.")
    SynthesisJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def _stale(**more) -> dict:
    return {
        "status": SynthesisJob.Status.RUNNING,
        "worker": "gone@host",
        "worker_host": "another-host",
        "worker_pid": 1,
        "heartbeat_at": timezone.now() - LONG_AGO,
        "attempts": 1,
        **more,
    }


def test_a_broker_outage_at_accept_time_leaves_the_job_unsent_not_a_500(owner, voice, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(queueing.app, "send_task", down)
    job = services.job_create(owner=owner, voice=voice, text="Hello there.")
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.QUEUED and job.dispatched_at is None
    assert usage_summary(user=owner)["characters"]["reserved"] == job.characters


def test_the_sweeper_sends_an_unsent_job_with_its_engine(owner, voice):
    job = _job(owner, voice, dispatched_at=None, created_at=timezone.now() - LONG_AGO)
    with task_spy("synthesis.tasks.synthesize") as sent:
        counts = recovery.jobs_sweep()
    sent.assert_called_once_with(job_id=job.pk, engine="xtts")
    assert counts["sent"] == 1
    job.refresh_from_db()
    assert job.dispatched_at is not None
    with task_spy("synthesis.tasks.synthesize") as again:
        recovery.jobs_sweep()
    again.assert_not_called()  # sent once, not at every sweep


def test_a_young_unsent_job_is_left_to_its_own_send(owner, voice):
    _job(owner, voice, dispatched_at=None)
    with task_spy("synthesis.tasks.synthesize") as sent:
        recovery.jobs_sweep()
    sent.assert_not_called()


def test_a_job_abandoned_by_its_worker_is_requeued_and_sent(
    owner, voice, django_capture_on_commit_callbacks
):
    job = _job(owner, voice, **_stale())
    with (
        task_spy("synthesis.tasks.synthesize") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert recovery.jobs_sweep()["requeued"] == 1
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.QUEUED and job.worker == ""
    sent.assert_called_once_with(job_id=job.pk, engine="xtts")
    assert job.quota_state == SynthesisJob.QuotaState.RESERVED  # still charged once, not twice


def test_a_running_job_with_a_live_heartbeat_is_left_alone(owner, voice):
    job = _job(owner, voice, **_stale(heartbeat_at=timezone.now()))
    with task_spy("synthesis.tasks.synthesize") as sent:
        recovery.jobs_sweep()
    sent.assert_not_called()
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.RUNNING


def test_a_job_interrupted_too_often_fails_with_a_refund(owner, voice, settings):
    job = _job(owner, voice, **_stale(attempts=settings.SYNTHESIS_MAX_ATTEMPTS))
    assert recovery.jobs_sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.FAILED
    assert "interrupted 3 times" in job.error and "refunded" in job.error
    assert job.quota_state == SynthesisJob.QuotaState.REFUNDED
    usage = usage_summary(user=owner)
    assert usage["characters"]["used"] == 0 and usage["characters"]["reserved"] == 0
    assert usage["concurrent_jobs"]["in_use"] == 0


def test_an_abandoned_job_whose_cancel_was_asked_ends_cancelled(owner, voice):
    job = _job(owner, voice, **_stale(cancel_requested=True))
    assert recovery.jobs_sweep()["cancelled"] == 1
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.CANCELLED
    assert job.quota_state == SynthesisJob.QuotaState.REFUNDED


def test_cancel_works_at_once_on_a_stranded_job(owner, voice):
    job = _job(owner, voice, **_stale())
    services.job_cancel(job=job, user=owner)
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.CANCELLED
    assert usage_summary(user=owner)["concurrent_jobs"]["in_use"] == 0


def test_cancel_of_a_live_job_asks_its_worker(owner, voice):
    job = _job(owner, voice, **_stale(heartbeat_at=timezone.now()))
    services.job_cancel(job=job, user=owner)
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.RUNNING and job.cancel_requested


def test_a_job_no_worker_ever_took_fails_with_a_refund(owner, voice, settings):
    job = _job(
        owner,
        voice,
        dispatched_at=timezone.now(),
        created_at=timezone.now() - timedelta(seconds=settings.SYNTHESIS_QUEUED_MAX_SECONDS + 5),
    )
    assert recovery.jobs_sweep()["expired"] == 1
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.FAILED and "No synthesis worker" in job.error
    assert job.quota_state == SynthesisJob.QuotaState.REFUNDED


def test_a_claim_takes_over_a_job_whose_process_on_this_host_is_dead(owner, voice):
    import socket

    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    job = _job(
        owner,
        voice,
        **_stale(
            heartbeat_at=timezone.now(), worker_host=socket.gethostname(), worker_pid=dead_pid
        ),
    )
    claimed = services.job_claim(job_id=job.pk, worker="me@host")
    assert claimed is not None and claimed.attempts == 2


def test_a_claim_leaves_a_job_whose_process_elsewhere_is_fresh(owner, voice):
    job = _job(owner, voice, **_stale(heartbeat_at=timezone.now()))
    assert services.job_claim(job_id=job.pk, worker="me@host") is None


def test_the_sweeper_sends_an_unsent_sample_and_rejects_one_stuck_too_long(owner, settings):
    fresh = Sample.objects.create(owner=owner, status=Sample.Status.UPLOADED, raw="x/raw")
    Sample.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    stuck = Sample.objects.create(owner=owner, status=Sample.Status.PROCESSING, raw="y/raw")
    Sample.objects.filter(pk=stuck.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.SAMPLE_INTAKE_MAX_SECONDS + 5)
    )
    with task_spy("voices.tasks.sample_intake") as sent:
        result = recovery.outbox_sweep()
    sent.assert_called_once_with(sample_id=fresh.pk)
    assert result["samples"] == {"sent": 1, "expired": 1}
    fresh.refresh_from_db()
    stuck.refresh_from_db()
    assert fresh.dispatched_at is not None and fresh.status == Sample.Status.PROCESSING
    assert stuck.status == Sample.Status.REJECTED and "in time" in stuck.error_message


def test_the_sweeper_resends_a_voice_build_that_never_went_out(
    owner, django_capture_on_commit_callbacks
):
    voice = make_ready_voice(owner, "Rebuilt")
    Voice.objects.filter(pk=voice.pk).update(
        status=Voice.Status.BUILDING, updated_at=timezone.now() - timedelta(minutes=5)
    )
    Consent.objects.filter(voice=voice).delete()
    with (
        task_spy("voices.tasks.voice_conditioning_compute") as build,
        django_capture_on_commit_callbacks(execute=True),
    ):
        recovery.outbox_sweep()
    build.assert_called_once()
    assert build.call_args.kwargs["voice_id"] == voice.pk
    voice.refresh_from_db()
    assert voice.build_dispatched_at is not None


def test_the_sweeper_resends_an_overdue_webhook_delivery(owner):
    delivery = WebhookDelivery.objects.create(
        owner=owner, event="synthesis.job.succeeded", url="https://example.com/hook"
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - LONG_AGO)
    with task_spy("synthesis.housekeeping.webhook_deliver") as sent:
        assert recovery.outbox_sweep()["webhooks"]["sent"] == 1
    sent.assert_called_once_with(delivery_id=delivery.pk)


def test_batch_items_are_dispatched_with_their_engine(
    owner, voice, django_capture_on_commit_callbacks
):
    from synthesis.batches import services as batches

    with (
        task_spy("synthesis.tasks.synthesize") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        batch = batches.batch_create(
            owner=owner, items=[{"voice": voice, "text": "One."}, {"voice": voice, "text": "Two."}]
        )
    assert sent.call_count == 2
    assert {call.kwargs["engine"] for call in sent.call_args_list} == {"xtts"}
    assert not batch.jobs.filter(dispatched_at__isnull=True).exists()


def test_the_sweeper_packages_a_batch_whose_finish_message_was_lost(owner, voice):
    from synthesis.batches import services as batches
    from synthesis.models import SynthesisBatch
    from synthesis.tasks import outbox_sweep

    with task_spy("synthesis.tasks.synthesize"):
        batch = batches.batch_create(owner=owner, items=[{"voice": voice, "text": "One."}])
    batch.jobs.update(status=SynthesisJob.Status.CANCELLED, finished_at=timezone.now())
    assert batch.status == SynthesisBatch.Status.RUNNING
    assert outbox_sweep()["batches"] == {"packaged": 1}
    batch.refresh_from_db()
    assert batch.status in (SynthesisBatch.Status.DONE, SynthesisBatch.Status.FAILED)
    assert outbox_sweep()["batches"] == {"packaged": 0}
