"""Suspending a user from the admin: live keys and sessions are cut off at once, queued jobs
are cancelled with refunds, the login page says why, and each step is audited once."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from accounts import moderation
from accounts.models import CharacterUsage, JobSlots, User
from synthesis.jobs import services as job_services
from synthesis.models import SynthesisJob
from tests.factories import UserFactory
from tests.moderation.support import error_of, events, run_admin_action
from tests.synthesis.compat.support import api_key, bearer_client, xi_client
from tests.voices.helpers import make_ready_voice

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def member(db):
    return UserFactory(email="member@example.com")


def signed_in(user) -> Client:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_suspension_cuts_off_a_live_key_and_a_live_session_at_once(admin_client, member):
    key = bearer_client(api_key(member, "usage:read", "tts"))
    browser = signed_in(member)
    assert key.get("/api/v1/usage").status_code == 200
    assert browser.get("/api/v1/usage").status_code == 200
    assert browser.get("/dashboard/").status_code == 200
    assert Session.objects.count() >= 1

    response = run_admin_action(
        admin_client, "accounts/user", "suspend", [member.pk], reason="Abuse reported"
    )
    assert response.status_code == 302

    member.refresh_from_db()
    assert (member.is_active, member.suspension_reason) == (False, "Abuse reported")
    refused = key.get("/api/v1/usage")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "account_suspended"
    assert error_of(refused)["details"]["reason"] == "Abuse reported"
    # The session row is gone and the browser is signed out on its very next request.
    assert not [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(member.pk)
    ]
    assert browser.get("/api/v1/usage").status_code in (401, 403)
    assert browser.get("/dashboard/").status_code == 302
    # The admin's own session is untouched.
    assert admin_client.get("/admin/").status_code == 200
    [event] = events("accounts.user.suspended", target_id=str(member.code))
    assert event.data["reason"] == "Abuse reported"
    assert event.actor_type == "admin"


def test_a_session_that_survived_is_refused_too(member, admin_user):
    """Even if a session outlived the cleanup (another store, a race), is_active refuses it."""
    browser = signed_in(member)
    User.objects.filter(pk=member.pk).update(is_active=False, suspended_at="2026-01-01T00:00Z")
    assert browser.get("/dashboard/").status_code == 302


def test_compat_endpoints_refuse_a_suspended_users_key_in_their_shapes(admin_user, member):
    secret = api_key(member, "tts")
    moderation.user_suspend(user=member, reason="Spam", admin_user=admin_user)
    openai = bearer_client(secret).post(
        "/v1/audio/speech", {"model": "tts-1", "input": "Hi.", "voice": "x"}, format="json"
    )
    assert openai.status_code == 403
    body = openai.json()["error"]
    assert (body["code"], body["type"]) == ("account_suspended", "permission_error")
    eleven = xi_client(secret).post(
        "/v1/text-to-speech/6f1c1f8e-2b1a-4bfb-9a51-000000000000", {"text": "Hi."}, format="json"
    )
    assert eleven.status_code == 403
    assert eleven.json()["detail"]["status"] == "account_suspended"


def test_suspension_cancels_queued_jobs_with_refunds(
    admin_user, member, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("config.queueing.task_send", lambda name, **kw: None)
    voice = make_ready_voice(member, "Mine")
    job = job_services.job_create(owner=member, voice=voice, text="Hello there.")
    usage = CharacterUsage.objects.get(user=member)
    assert usage.reserved == len("Hello there.")
    assert JobSlots.objects.get(user=member).in_use == 1

    with django_capture_on_commit_callbacks(execute=True):
        moderation.user_suspend(user=member, reason="Fraud", admin_user=admin_user)

    job.refresh_from_db()
    usage.refresh_from_db()
    assert job.status == SynthesisJob.Status.CANCELLED
    assert job.quota_state == SynthesisJob.QuotaState.REFUNDED
    assert (usage.reserved, usage.used) == (0, 0)
    assert JobSlots.objects.get(user=member).in_use == 0
    [cancelled] = events("synthesis.job.cancelled", target_id=str(job.code))
    assert cancelled.actor_type == "admin"


def test_a_suspended_user_who_signs_in_is_told_why(admin_user, member):
    moderation.user_suspend(user=member, reason="Terms violation", admin_user=admin_user)
    response = Client().post(
        "/accounts/login/", {"login": member.email, "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "suspended" in page
    assert "Terms violation" in page
    assert "_auth_user_id" not in Client().session


def test_reactivation_restores_keys_and_is_audited(admin_client, admin_user, member):
    key = bearer_client(api_key(member, "usage:read"))
    moderation.user_suspend(user=member, reason="Check", admin_user=admin_user)
    assert key.get("/api/v1/usage").status_code == 403

    response = run_admin_action(
        admin_client, "accounts/user", "reactivate", [member.pk], reason="Cleared"
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.is_active, member.suspended_at, member.suspension_reason) == (True, None, "")
    assert key.get("/api/v1/usage").status_code == 200
    assert len(events("accounts.user.reactivated", target_id=str(member.code))) == 1
    assert len(events("accounts.user.suspended", target_id=str(member.code))) == 1


def test_refusals_are_messages_not_errors(admin_client, admin_user, member):
    # Suspending twice, or oneself, or without a reason: a message or the form again, no event.
    moderation.user_suspend(user=member, reason="Once", admin_user=admin_user)
    again = run_admin_action(admin_client, "accounts/user", "suspend", [member.pk], reason="x")
    assert again.status_code == 302
    self_suspend = run_admin_action(
        admin_client, "accounts/user", "suspend", [admin_user.pk], reason="oops"
    )
    assert self_suspend.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.is_active
    no_reason = run_admin_action(admin_client, "accounts/user", "suspend", [member.pk], reason="")
    assert no_reason.status_code == 200  # the form again, with its error
    assert len(events("accounts.user.suspended")) == 1


def test_a_running_job_is_asked_to_stop_and_refunded_when_it_does(
    admin_user, member, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("config.queueing.task_send", lambda name, **kw: None)
    voice = make_ready_voice(member, "Mine")
    job = job_services.job_create(owner=member, voice=voice, text="Hello there.")
    running = job_services.job_claim(job_id=job.pk, worker="w1")

    with django_capture_on_commit_callbacks(execute=True):
        moderation.user_suspend(user=member, reason="Fraud", admin_user=admin_user)

    running.refresh_from_db()
    assert (running.status, running.cancel_requested) == ("running", True)
    assert not job_services.job_progress(job=running, chunks_done=1)  # the worker stops...
    assert job_services.job_finish_cancelled(job=running)  # ...and ends it, refunded
    running.refresh_from_db()
    assert (running.status, running.quota_state) == ("cancelled", "refunded")
    assert CharacterUsage.objects.get(user=member).reserved == 0
