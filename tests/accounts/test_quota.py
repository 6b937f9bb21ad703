"""Plan quotas: monthly characters, per-key caps, concurrent jobs and storage (no worker)."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import usage
from accounts.models import CharacterUsage, JobSlots
from accounts.services import api_key_create
from audit.models import AuditEvent
from synthesis.jobs import services
from synthesis.models import SynthesisJob
from tests.synthesis.api_helpers import (
    body,
    job_fail,
    job_finish,
    job_request,
    make_ready_voice,
    plan,
    session_client,
    user_on,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/synthesis"


def post(client, voice, text, **extra):
    return client.post(URL, body(text, voice), format="json", **extra)


def test_monthly_characters_run_out_with_402_saying_when_they_reset():
    user = user_on(plan(monthly_characters=100))
    voice = make_ready_voice(user, "V")
    client = session_client(user)
    assert post(client, voice, "x" * 60).status_code == 202
    response = post(client, voice, "y" * 41)
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    resets = usage.resets_at(usage.month_of())
    assert "monthly character quota" in error["message"]
    assert resets.isoformat().replace("+00:00", "Z") in error["message"]
    assert error["details"] == {
        "limit": 100,
        "used": 0,
        "reserved": 60,
        "requested": 41,
        "resets_at": resets.isoformat().replace("+00:00", "Z"),
    }
    assert post(client, voice, "z" * 40).status_code == 202  # exactly what is left still fits
    refused = AuditEvent.objects.get(action="accounts.quota.refused")
    assert refused.actor_user == user and refused.data["code"] == "quota_exceeded"
    assert SynthesisJob.objects.count() == 2


def test_a_text_longer_than_the_whole_quota_says_so():
    user = user_on(plan(monthly_characters=10))
    response = post(session_client(user), make_ready_voice(user, "V"), "x" * 11)
    assert response.status_code == 402
    assert "more than your plan's monthly 10" in response.json()["error"]["message"]


def test_refunds_make_room_again():
    user = user_on(plan(monthly_characters=100))
    voice = make_ready_voice(user, "V")
    job = job_request(user, voice, "x" * 100)
    with pytest.raises(usage.QuotaExceeded):
        job_request(user, voice, "y")
    job_fail(job)
    job_request(user, voice, "y" * 100)  # the failed job's characters are free again


def test_settled_characters_stay_spent():
    user = user_on(plan(monthly_characters=100))
    voice = make_ready_voice(user, "V")
    job_finish(job_request(user, voice, "x" * 100))
    with pytest.raises(usage.QuotaExceeded):
        job_request(user, voice, "y")
    counters = CharacterUsage.objects.get(user=user)
    assert (counters.used, counters.reserved) == (100, 0)


def test_a_new_month_starts_from_zero_and_old_jobs_settle_in_their_month(monkeypatch):
    user = user_on(plan(monthly_characters=100))
    voice = make_ready_voice(user, "V")
    job = job_request(user, voice, "x" * 100)
    assert job.usage_month == usage.month_of()
    next_month = usage.resets_at(usage.month_of())
    monkeypatch.setattr(usage, "month_of", lambda moment=None: next_month.date().replace(day=1))
    job_request(user, voice, "y" * 100)
    job_finish(job)
    old = CharacterUsage.objects.get(user=user, month=job.usage_month)
    new = CharacterUsage.objects.get(user=user, month=next_month.date())
    assert (old.used, old.reserved) == (100, 0)
    assert (new.used, new.reserved) == (0, 100)


def test_key_cap_is_enforced_apart_from_the_plan(owner):
    voice = make_ready_voice(owner, "V")
    _, secret = api_key_create(user=owner, name="cap", scopes=["tts"], monthly_character_cap=20)
    capped = APIClient()
    capped.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert post(capped, voice, "x" * 15).status_code == 202
    response = post(capped, voice, "x" * 6)
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "key_quota_exceeded"
    assert "cap of 20 characters" in response.json()["error"]["message"]
    assert post(session_client(owner), voice, "x" * 6).status_code == 202  # not the session
    # The refused request reserved nothing anywhere.
    assert CharacterUsage.objects.get(user=owner).reserved == 21


def test_concurrent_jobs_limit_is_429_until_one_ends():
    user = user_on(plan(concurrent_jobs=1))
    voice = make_ready_voice(user, "V")
    client = session_client(user)
    first = post(client, voice, "First.")
    assert first.status_code == 202
    response = post(client, voice, "Second.")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "concurrent_jobs_exceeded"
    assert "1 job(s) at a time" in response.json()["error"]["message"]
    assert CharacterUsage.objects.get(user=user).reserved == len("First.")  # nothing held
    client.post(f"{URL}/{first.json()['id']}/cancel")
    assert post(client, voice, "Second.").status_code == 202


def test_storage_full_is_402():
    user = user_on(plan(storage_mb=1))
    voice = make_ready_voice(user, "V")
    job_finish(job_request(user, voice), audio=b"\0" * 1_000_001)
    response = post(session_client(user), voice, "More.")
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "storage_exceeded"


def test_settle_and_refund_happen_once_even_when_delivered_twice():
    user = user_on(plan(monthly_characters=1000))
    voice = make_ready_voice(user, "V")
    job = job_request(user, voice, "x" * 10)
    claimed = services.job_claim(job_id=job.pk, worker="w")
    services.job_fail(job=claimed, error="boom")
    services.job_fail(job=claimed, error="boom again")  # a redelivered failure
    assert services.job_refund_quota(job=claimed) is False
    counters = CharacterUsage.objects.get(user=user)
    assert (counters.used, counters.reserved) == (0, 0)
    assert JobSlots.objects.get(user=user).in_use == 0
    assert AuditEvent.objects.filter(action="synthesis.job.failed").count() == 1


def test_month_helpers():
    assert usage.resets_at(date(2026, 12, 1)).isoformat() == "2027-01-01T00:00:00+00:00"
    assert usage.resets_at(date(2028, 2, 1)).isoformat() == "2028-03-01T00:00:00+00:00"
    assert usage.month_of(timezone.now()).day == 1
