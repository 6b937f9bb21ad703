"""Jobs in the admin: the change list shows status, errors, owner, engine and timings; retry
re-queues through the outbox (charged again, within quota); cancel refunds. Each audited."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import CharacterUsage, Plan
from synthesis.jobs import services as job_services
from synthesis.models import SynthesisJob
from tests.moderation.support import events, run_admin_action
from tests.support.tasks import task_spy
from tests.voices.helpers import make_ready_voice

pytestmark = pytest.mark.django_db

TEXT = "Hello there."


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "Anna", language="en")


def failed_job(owner, voice) -> SynthesisJob:
    with task_spy("synthesis.tasks.synthesize"):
        job = job_services.job_create(owner=owner, voice=voice, text=TEXT)
    job_services.job_claim(job_id=job.pk, worker="w1")
    job.refresh_from_db()
    assert job_services.job_fail(job=job, error="The engine ran out of memory.")
    job.refresh_from_db()
    return job


def test_change_list_shows_what_an_operator_needs(admin_client, owner, voice):
    job = failed_job(owner, voice)
    page = admin_client.get("/admin/synthesis/synthesisjob/?status__exact=failed").content.decode()
    for shown in (str(job.code), owner.email, "Anna", "xtts", "The engine ran out of memory."):
        assert shown in page
    found = admin_client.get("/admin/synthesis/synthesisjob/?q=out+of+memory").content.decode()
    assert str(job.code) in found


def test_retry_requeues_through_the_outbox_and_charges_again(
    admin_client, owner, voice, django_capture_on_commit_callbacks
):
    job = failed_job(owner, voice)
    usage = CharacterUsage.objects.get(user=owner)
    assert usage.reserved == 0
    with (
        task_spy("synthesis.tasks.synthesize") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = run_admin_action(admin_client, "synthesis/synthesisjob", "retry", [job.pk])
    assert response.status_code == 302
    sent.assert_called_once()
    assert sent.call_args.kwargs["job_id"] == job.pk
    job.refresh_from_db()
    assert (job.status, job.quota_state, job.error, job.attempts) == ("queued", "reserved", "", 0)
    assert job.dispatched_at is not None
    usage.refresh_from_db()
    assert usage.reserved == len(TEXT)
    [event] = events("synthesis.job.retried", target_id=str(job.code))
    assert event.actor_type == "admin"
    assert event.data["previous"]["status"] == "failed"


def test_retry_respects_the_quota(admin_client, owner, voice):
    job = failed_job(owner, voice)
    owner.plan = Plan.objects.create(slug="tiny", name="Tiny", monthly_characters=len(TEXT) - 1)
    owner.save()
    with task_spy("synthesis.tasks.synthesize") as sent:
        response = run_admin_action(admin_client, "synthesis/synthesisjob", "retry", [job.pk])
    assert response.status_code == 302
    sent.assert_not_called()
    job.refresh_from_db()
    assert (job.status, job.quota_state) == ("failed", "refunded")
    assert not events("synthesis.job.retried")
    messages = admin_client.get("/admin/synthesis/synthesisjob/").content.decode()
    assert "quota" in messages


def test_retry_refuses_a_job_that_did_not_end(admin_client, owner, voice):
    with task_spy("synthesis.tasks.synthesize"):
        job = job_services.job_create(owner=owner, voice=voice, text=TEXT)
    run_admin_action(admin_client, "synthesis/synthesisjob", "retry", [job.pk])
    job.refresh_from_db()
    assert job.status == "queued"
    assert not events("synthesis.job.retried")


def test_cancel_refunds_and_is_audited(admin_client, admin_user, owner, voice):
    with task_spy("synthesis.tasks.synthesize"):
        job = job_services.job_create(owner=owner, voice=voice, text=TEXT)
    response = run_admin_action(admin_client, "synthesis/synthesisjob", "cancel", [job.pk])
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.quota_state) == ("cancelled", "refunded")
    assert job.finished_at <= timezone.now()
    [event] = events("synthesis.job.cancelled", target_id=str(job.code))
    assert (event.actor_type, event.actor_user) == ("admin", admin_user)
