"""A blocked voice is refused on every surface (403 `voice_blocked`, with the admin's reason),
a job already queued for it fails refunded when a worker picks it up, and its owner sees why."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import CharacterUsage
from synthesis.jobs import runner
from synthesis.jobs import services as job_services
from synthesis.models import SynthesisBatch, SynthesisJob
from tests.moderation.support import error_of, events, run_admin_action
from tests.synthesis.compat.support import api_key, bearer_client, xi_client
from tests.voices.helpers import make_ready_voice, make_stock_voice
from voices import services as voice_services
from voices.models import Voice

pytestmark = pytest.mark.django_db

REASON = "Impersonates a public figure"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr("config.queueing.task_send", lambda name, **kw: None)


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "Anna", language="en")


@pytest.fixture
def blocked(voice, admin_client):
    response = run_admin_action(admin_client, "voices/voice", "block", [voice.pk], reason=REASON)
    assert response.status_code == 302
    voice.refresh_from_db()
    assert voice.blocked_at is not None
    return voice


def assert_blocked(response, status=403):
    assert response.status_code == status, response.content
    error = error_of(response)
    assert error["code"] == "voice_blocked"
    assert REASON in error["message"]


def test_block_is_audited_once_with_the_reason(blocked, admin_user):
    [event] = events("voices.voice.blocked", target_id=str(blocked.code))
    assert event.data["reason"] == REASON
    assert blocked.blocked_by == admin_user


def test_native_api_refuses_it(blocked, owner):
    client = bearer_client(api_key(owner, "tts"))
    body = {"voice": str(blocked.code), "text": "Hello there."}
    assert_blocked(client.post("/api/v1/synthesis", body, format="json"))
    assert_blocked(client.post("/api/v1/synthesis/stream", body, format="json"))
    batch = {"voice": str(blocked.code), "items": [{"text": "One."}, {"text": "Two."}]}
    assert_blocked(client.post("/api/v1/synthesis/batch", batch, format="json"))
    assert not SynthesisJob.objects.exists()
    assert not SynthesisBatch.objects.exists()
    assert not CharacterUsage.objects.filter(reserved__gt=0).exists()


def test_session_api_refuses_it(blocked, owner_client):
    body = {"voice": str(blocked.code), "text": "Hello there."}
    assert_blocked(owner_client.post("/api/v1/synthesis", body, format="json"))


def test_mixing_refuses_it(blocked, owner, owner_client):
    other = make_ready_voice(owner, "Bob", seed=2)
    body = {
        "name": "Blend",
        "voices": [{"id": str(blocked.code), "weight": 1}, {"id": str(other.code), "weight": 1}],
    }
    assert_blocked(owner_client.post("/api/v1/voices/mix", body, format="json"))
    assert_blocked(
        owner_client.post("/api/v1/voices/mix", {"name": "B2", "voices": "Anna+Bob"}, format="json")
    )
    assert not Voice.objects.filter(name__startswith="B").exclude(pk=other.pk).exists()


def test_openai_compat_refuses_it(blocked, owner):
    client = bearer_client(api_key(owner, "tts"))
    body = {"model": "tts-1", "input": "Hello there.", "voice": "Anna"}
    response = client.post("/v1/audio/speech", body, format="json")
    assert_blocked(response)
    assert response.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize("path", ["/v1/text-to-speech/{}", "/v1/text-to-speech/{}/stream"])
def test_elevenlabs_compat_refuses_it(blocked, owner, path):
    client = xi_client(api_key(owner, "tts"))
    response = client.post(path.format(blocked.code), {"text": "Hello."}, format="json")
    assert_blocked(response)
    assert response.json()["detail"]["status"] == "voice_blocked"


def test_dashboard_refuses_it_with_a_message(blocked, owner):
    client = Client()
    client.force_login(owner)
    response = client.post(
        "/speak/",
        {
            "text": "Hello there.",
            "voice": blocked.pk,
            "language": "",
            "output_format": "mp3",
            "speed": "1.0",
        },
    )
    assert response.status_code == 200
    assert REASON in response.content.decode()
    assert not SynthesisJob.objects.exists()


def test_a_blocked_stock_voice_is_refused_for_everyone(admin_user, owner):
    stock = make_stock_voice()
    voice_services.voice_block(voice=stock, reason=REASON, admin_user=admin_user)
    client = bearer_client(api_key(owner, "tts"))
    body = {"voice": str(stock.code), "text": "Hello there."}
    assert_blocked(client.post("/api/v1/synthesis", body, format="json"))


def test_a_queued_job_fails_refunded_when_a_worker_picks_it_up(voice, owner, admin_user):
    job = job_services.job_create(owner=owner, voice=voice, text="Hello there.")
    voice_services.voice_block(voice=voice, reason=REASON, admin_user=admin_user)

    runner.job_run(job_id=job.pk, worker="test-worker")

    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.FAILED
    assert REASON in job.error
    assert job.quota_state == SynthesisJob.QuotaState.REFUNDED
    usage = CharacterUsage.objects.get(user=owner)
    assert (usage.used, usage.reserved) == (0, 0)
    assert len(events("synthesis.job.failed", target_id=str(job.code))) == 1


def test_the_owner_sees_why(blocked, owner_client):
    body = owner_client.get(f"/api/v1/voices/{blocked.code}").json()
    assert (body["blocked"], body["blocked_reason"]) == (True, REASON)
    assert body["blocked_at"]
    page = owner_client.get(f"/voices/{blocked.code}/").content.decode()
    assert REASON in page
    assert "Blocked by an administrator" in page
    listed = owner_client.get("/voices/").content.decode()
    assert "blocked" in listed


def test_unblock_restores_use_and_is_audited(blocked, admin_client, owner):
    response = run_admin_action(
        admin_client, "voices/voice", "unblock", [blocked.pk], reason="Appeal upheld"
    )
    assert response.status_code == 302
    blocked.refresh_from_db()
    assert (blocked.blocked_at, blocked.blocked_reason, blocked.blocked_by) == (None, "", None)
    client = bearer_client(api_key(owner, "tts"))
    created = client.post(
        "/api/v1/synthesis", {"voice": str(blocked.code), "text": "Hi."}, format="json"
    )
    assert created.status_code == 202, created.content
    [event] = events("voices.voice.unblocked", target_id=str(blocked.code))
    assert event.data == {"reason": "Appeal upheld", "blocked_reason": REASON}


def test_the_dashboard_picker_marks_it_blocked(blocked, owner):
    client = Client()
    client.force_login(owner)
    page = client.get("/speak/").content.decode()
    assert f"{blocked.name} (" in page
    assert "blocked by an administrator" in page
