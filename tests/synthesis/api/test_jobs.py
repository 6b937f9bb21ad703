"""The jobs API without a worker: requests, bad input, idempotency, history, Range downloads."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import CharacterUsage, DailyUsage, JobSlots
from audit.models import AuditEvent
from synthesis.jobs import services
from synthesis.models import SynthesisJob
from tests.synthesis.api_helpers import (
    AUDIO,
    body,
    job_fail,
    job_finish,
    job_request,
    key_client,
    make_ready_voice,
    plan,
    session_client,
    user_on,
)
from voices.models import Voice

pytestmark = pytest.mark.django_db

URL = "/api/v1/synthesis"


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "Narrator", language="en")


def usage_of(user) -> CharacterUsage:
    return CharacterUsage.objects.get(user=user)


# --- creating ---------------------------------------------------------------------------------
def test_create_answers_202_with_the_job_and_quota_headers(owner, owner_client, voice):
    payload = body(
        "Hello there. How are you?",
        voice,
        format="wav",
        parameters={"speed": 1.2, "seed": 3, "temperature": 0.6},
    )
    response = owner_client.post(URL, payload, format="json")
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "queued"
    assert job["voice"] == str(voice.code)
    assert job["format"] == "wav" and job["sample_rate"] == 24_000 and job["language"] == "en"
    assert job["parameters"]["speed"] == 1.2 and job["parameters"]["seed"] == 3
    assert job["cost"] == {"characters": 25, "state": "reserved"}
    assert job["audio_url"] is None
    assert response["Location"] == f"{URL}/{job['id']}"
    assert response["character-cost"] == "25"
    assert int(response["x-ratelimit-remaining-characters"]) == 100_000 - 25
    assert int(response["x-ratelimit-remaining"]) >= 0 and response["x-ratelimit-limit"]
    assert usage_of(owner).reserved == 25
    assert JobSlots.objects.get(user=owner).in_use == 1
    event = AuditEvent.objects.get(action="synthesis.job.requested")
    assert event.target_id == job["id"] and event.actor_user == owner


def test_stock_voice_can_be_used(owner_client):
    from tests.voices.helpers import make_stock_voice

    stock = make_stock_voice()
    response = owner_client.post(URL, body("Hi.", stock), format="json")
    assert response.status_code == 202, response.content
    assert response.json()["sample_rate"] == 22_050  # the engine's own rate by default


def _post(client, payload, **extra):
    return client.post(URL, payload, format="json", **extra)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"text": ""}, 400, "empty_text"),
        ({"text": "   \n\t "}, 400, "empty_text"),
        ({"text": "\u200b\u200b"}, 400, "empty_text"),  # nothing speakable once cleaned
        ({"text": "Hello\u0007"}, 400, "invalid_characters"),  # control characters: refused
        ({"text": "x" * 41}, 400, "text_too_long"),
        ({"language": "xx"}, 400, "unsupported_language"),
        ({"format": "ogg"}, 400, "unsupported_format"),
        ({"format": "opus", "sample_rate": 22_050}, 400, "unsupported_sample_rate"),
        ({"sample_rate": 5}, 400, "unsupported_sample_rate"),
        ({"parameters": {"speed": 9}}, 400, "invalid_parameters"),
        ({"parameters": {"speed": "fast"}}, 400, "invalid_parameters"),
        ({"parameters": {"top_k": 0}}, 400, "invalid_parameters"),
        ({"voice": "not-a-uuid"}, 400, "invalid_request"),
        ({"voice": str(uuid.uuid4())}, 404, "voice_not_found"),
        ({"webhook_url": "ftp://example.com/hook"}, 400, "invalid_webhook_url"),
        ({"webhook_url": "http://127.0.0.1:9/hook"}, 400, "invalid_webhook_url"),
        ({"webhook_url": "http://10.1.2.3/hook"}, 400, "invalid_webhook_url"),
        ({"store": "perhaps"}, 400, "invalid_request"),
    ],
)
def test_bad_input_is_a_clear_4xx(owner_client, voice, settings, change, status, code):
    settings.SYNTHESIS_MAX_CHARACTERS = 40
    response = _post(owner_client, {**body("Hello.", voice), **change})
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert not SynthesisJob.objects.exists()


def test_missing_fields_name_them(owner_client):
    response = _post(owner_client, {})
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) >= {"text", "voice"}


def test_someone_elses_voice_is_404(owner_client, stranger):
    theirs = make_ready_voice(stranger, "Theirs")
    response = _post(owner_client, body("Hello.", theirs))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "voice_not_found"


def test_voice_not_ready_is_409(owner_client, owner):
    building = Voice.objects.create(owner=owner, name="Building")
    response = _post(owner_client, body("Hello.", building))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "voice_not_ready"


def test_malformed_json_is_400(owner_client):
    response = owner_client.post(URL, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_oversized_body_is_413_in_the_error_shape(owner_client, voice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = _post(owner_client, body("word " * 400, voice))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_wrong_content_type_is_415(owner_client, voice):
    response = owner_client.post(URL, data="text=hi", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_private_webhook_allowed_when_the_operator_says_so(owner_client, voice, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    response = _post(owner_client, body("Hello.", voice, webhook_url="http://127.0.0.1:9/h"))
    assert response.status_code == 202
    assert response.json()["webhook_url"] == "http://127.0.0.1:9/h"


# --- idempotency --------------------------------------------------------------------------------
def test_idempotency_key_returns_the_same_job_and_charges_once(owner, owner_client, voice):
    payload = body("Charge me once.", voice)
    first = _post(owner_client, payload, HTTP_IDEMPOTENCY_KEY="order-17")
    second = _post(owner_client, payload, HTTP_IDEMPOTENCY_KEY="order-17")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert SynthesisJob.objects.count() == 1
    assert usage_of(owner).reserved == len("Charge me once.")
    assert AuditEvent.objects.filter(action="synthesis.job.requested").count() == 1

    other = _post(owner_client, body("Something else.", voice), HTTP_IDEMPOTENCY_KEY="order-17")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert SynthesisJob.objects.count() == 1


def test_idempotency_keys_are_per_user(owner_client, voice, stranger):
    theirs = make_ready_voice(stranger, "Theirs")
    mine = _post(owner_client, body("Hello.", voice), HTTP_IDEMPOTENCY_KEY="k1")
    other = _post(session_client(stranger), body("Hello.", theirs), HTTP_IDEMPOTENCY_KEY="k1")
    assert mine.status_code == other.status_code == 202
    assert mine.json()["id"] != other.json()["id"]


def test_bad_idempotency_key_is_400(owner_client, voice):
    response = _post(owner_client, body("Hi.", voice), HTTP_IDEMPOTENCY_KEY="has space")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


# --- reading ----------------------------------------------------------------------------------
def test_detail_shows_progress_cost_durations_and_audio_url(owner, owner_client, voice):
    job = job_finish(job_request(owner, voice, "Done and dusted.", output_format="mp3"))
    data = owner_client.get(f"{URL}/{job.code}").json()
    assert data["status"] == "succeeded" and data["progress"] == 1.0
    assert data["text"] == "Done and dusted."
    assert data["cost"] == {"characters": 16, "state": "settled"}
    assert data["durations"]["audio_seconds"] == 1.5
    assert data["durations"]["compute_seconds"] == 0.5
    assert data["audio_url"] == f"http://testserver{URL}/{job.code}/audio"
    assert data["audio_bytes"] == len(AUDIO)
    assert data["audio_expires_at"]


def test_list_filters_and_paginates(owner, owner_client, voice):
    other_voice = make_ready_voice(owner, "Other")
    done = job_finish(job_request(owner, voice, "One."))
    second = job_request(owner, voice, "Two.")
    third = job_request(owner, other_voice, "Three.")

    def ids(query=""):
        return [j["id"] for j in owner_client.get(f"{URL}{query}").json()["results"]]

    assert ids() == [str(third.code), str(second.code), str(done.code)]
    assert ids("?status=succeeded") == [str(done.code)]
    assert ids(f"?voice={other_voice.code}") == [str(third.code)]
    future = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert ids(f"?created_before={future.replace('+', '%2B')}")
    assert ids(f"?created_after={future.replace('+', '%2B')}") == []
    page = owner_client.get(f"{URL}?limit=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert owner_client.get(f"{URL}?status=bogus").status_code == 400


def test_list_shows_only_your_jobs(owner, voice, stranger):
    job_request(owner, voice)
    assert session_client(stranger).get(URL).json()["count"] == 0


def test_list_keeps_a_constant_number_of_queries():
    owner = user_on(plan())
    voice = make_ready_voice(owner, "Narrator")
    client = key_client(owner, ["history:read"])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    job_finish(job_request(owner, voice, "First."))
    few = queries()
    for n in range(8):
        job = job_request(owner, make_ready_voice(owner, f"V{n}"), f"Job {n}.")
        if n % 2:
            job_finish(job)
    assert queries() == few


# --- cancel and delete -------------------------------------------------------------------------
def test_cancel_a_queued_job_refunds_it(owner, owner_client, voice):
    job = job_request(owner, voice, "Never mind.")
    response = owner_client.post(f"{URL}/{job.code}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["cost"]["state"] == "refunded"
    assert usage_of(owner).reserved == 0 and usage_of(owner).used == 0
    assert JobSlots.objects.get(user=owner).in_use == 0
    again = owner_client.post(f"{URL}/{job.code}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_finished"


def test_cancel_of_a_running_job_refunds_when_it_stops(owner, owner_client, voice):
    job = job_request(owner, voice, "Stop me.")
    claimed = services.job_claim(job_id=job.pk, worker="w1")
    assert owner_client.post(f"{URL}/{job.code}/cancel").json()["status"] == "running"
    assert usage_of(owner).reserved == 8  # still held while the worker finishes its chunk
    services.job_finish_cancelled(job=claimed)
    services.job_finish_cancelled(job=claimed)  # delivered twice: refunded once
    assert usage_of(owner).reserved == 0 and usage_of(owner).used == 0
    assert AuditEvent.objects.filter(action="synthesis.job.stopped").count() == 1


def test_failure_refunds_once_and_success_settles_once(owner, voice):
    failed = job_fail(job_request(owner, voice, "Will fail."))
    assert failed.quota_state == SynthesisJob.QuotaState.REFUNDED
    assert not services.job_refund_quota(job=failed)  # a second refund does nothing
    assert not services.job_settle_quota(job=failed)
    done = job_finish(job_request(owner, voice, "Will work."))
    assert not services.job_settle_quota(job=done)
    usage = usage_of(owner)
    assert (usage.used, usage.reserved) == (10, 0)
    day = DailyUsage.objects.get(user=owner)
    assert (day.characters, day.jobs) == (10, 1)
    assert JobSlots.objects.get(user=owner).in_use == 0


def test_delete_removes_the_job_and_its_audio(
    owner, owner_client, voice, django_capture_on_commit_callbacks
):
    job = job_finish(job_request(owner, voice))
    name = job.audio.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.delete(f"{URL}/{job.code}")
    assert response.status_code == 204
    assert not SynthesisJob.objects.filter(pk=job.pk).exists()
    assert not default_storage.exists(name)
    assert AuditEvent.objects.filter(action="synthesis.job.deleted", target_id=str(job.code))
    assert usage_of(owner).used == 12  # history deletion does not refund what was made


def test_delete_of_an_unfinished_job_is_409(owner, owner_client, voice):
    job = job_request(owner, voice)
    response = owner_client.delete(f"{URL}/{job.code}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_not_finished"


# --- audio downloads -----------------------------------------------------------------------------
def _download(client, job, range_header=None):
    extra = {"HTTP_RANGE": range_header} if range_header else {}
    response = client.get(f"{URL}/{job.code}/audio", **extra)
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response, content


def test_whole_download(owner, owner_client, voice):
    job = job_finish(job_request(owner, voice, output_format="mp3"))
    response, content = _download(owner_client, job)
    assert response.status_code == 200
    assert content == AUDIO
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Content-Length"] == str(len(AUDIO))
    assert response["Accept-Ranges"] == "bytes"
    assert f"timbre-{job.code}.mp3" in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action="synthesis.job.downloaded").count() == 1


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-199", 100, 199),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),  # a last byte past the end is clamped
        ("bytes=-99999", 0, 10239),
    ],
)
def test_range_download_is_206(owner, owner_client, voice, header, first, last):
    job = job_finish(job_request(owner, voice))
    response, content = _download(owner_client, job, header)
    assert response.status_code == 206
    assert content == AUDIO[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(AUDIO)}"
    assert response["Content-Length"] == str(last - first + 1)
    event = AuditEvent.objects.get(action="synthesis.job.downloaded")
    assert event.data == {"range": header}


@pytest.mark.parametrize(
    "header", ["bytes=10240-", "bytes=20-10", "bytes=-0", "bytes=x-y", "bytes=-"]
)
def test_unsatisfiable_range_is_416(owner, owner_client, voice, header):
    job = job_finish(job_request(owner, voice))
    response, _ = _download(owner_client, job, header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(AUDIO)}"
    assert json.loads(_)["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["items=0-5", "bytes=0-1,5-9"])
def test_ranges_we_do_not_serve_get_the_whole_file(owner, owner_client, voice, header):
    job = job_finish(job_request(owner, voice))
    response, content = _download(owner_client, job, header)
    assert response.status_code == 200 and content == AUDIO


def test_audio_of_an_unfinished_job_is_409(owner, owner_client, voice):
    job = job_request(owner, voice)
    response, content = _download(owner_client, job)
    assert response.status_code == 409
    assert json.loads(content)["error"]["code"] == "audio_not_ready"


def test_store_false_deletes_the_audio_after_the_first_complete_download(
    owner, owner_client, voice, django_capture_on_commit_callbacks
):
    job = job_finish(job_request(owner, voice, store=False))
    name = job.audio.name
    response, content = _download(owner_client, job, "bytes=0-99")  # a part: kept
    assert response.status_code == 206
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response, content = _download(owner_client, job)
    assert response.status_code == 200 and content == AUDIO
    job.refresh_from_db()
    assert not job.audio and job.audio_deleted_reason == "downloaded"
    assert not default_storage.exists(name)
    response, content = _download(owner_client, job)
    assert response.status_code == 410
    assert json.loads(content)["error"]["code"] == "audio_gone"
    assert owner_client.get(f"{URL}/{job.code}").json()["audio_deleted"] == "downloaded"


def test_store_false_survives_an_interrupted_download(owner, owner_client, voice):
    job = job_finish(job_request(owner, voice, store=False))
    response = owner_client.get(f"{URL}/{job.code}/audio")
    stream = iter(response.streaming_content)
    next(stream)
    # The client went away after the first block: the server closes the body early. (The test
    # client's own wrapper does that with the test's database connection kept open.)
    response._iterator.close()
    job.refresh_from_db()
    assert job.audio


def test_download_answers_audio_even_to_clients_that_accept_only_audio(owner, voice):
    client = key_client(owner, ["history:read"])
    job = job_finish(job_request(owner, voice))
    response = client.get(f"{URL}/{job.code}/audio", HTTP_ACCEPT="audio/mpeg")
    assert response.status_code == 200


# --- usage -------------------------------------------------------------------------------------
def test_usage_reports_the_month(owner, owner_client, voice):
    job_finish(job_request(owner, voice, "Twelve chars"))
    job_request(owner, voice, "Five!")
    data = owner_client.get("/api/v1/usage").json()
    assert data["characters"] == {
        "used": 12,
        "reserved": 5,
        "limit": 100_000,
        "remaining": 100_000 - 17,
    }
    now = timezone.now()
    assert data["month"] == now.strftime("%Y-%m")
    assert data["resets_at"].startswith(
        (now.replace(day=28) + timedelta(days=4)).replace(day=1).strftime("%Y-%m-01T00:00:00")
    )
    assert data["days"] == [{"date": now.date().isoformat(), "characters": 12, "jobs": 1}]
    assert data["concurrent_jobs"] == {"in_use": 1, "limit": 2}
    assert data["voice_slots"] == {"used": 1, "limit": 3}
    assert data["storage"]["used_bytes"] >= len(AUDIO)
    assert data["api_key"] is None


def test_usage_with_a_key_shows_the_keys_own_counters(owner, voice):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    key, secret = api_key_create(
        user=owner, name="capped", scopes=["tts", "usage:read"], monthly_character_cap=100
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.post(URL, body("Hello key.", voice), format="json").status_code == 202
    data = client.get("/api/v1/usage").json()
    assert data["api_key"] == {
        "prefix": key.prefix,
        "used": 0,
        "reserved": 10,
        "limit": 100,
        "remaining": 90,
    }


# --- streaming (the channel faked; tests/synthesis/test_api_worker.py runs the real one) -------
STREAM = f"{URL}/stream"


def _fake_stream(monkeypatch, pieces_or_error):
    def fake(code, **options):
        if isinstance(pieces_or_error, Exception):
            raise pieces_or_error
        yield from pieces_or_error

    monkeypatch.setattr("synthesis.jobs.streaming.stream_encoded", fake)


def test_stream_sends_audio_with_headers(owner, owner_client, voice, monkeypatch):
    _fake_stream(monkeypatch, [b"ab", b"cd"])
    response = owner_client.post(STREAM, body("Say it now.", voice, format="pcm"), format="json")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"abcd"
    assert response["Content-Type"] == "audio/pcm"
    assert response["character-cost"] == "11"
    job = SynthesisJob.objects.get(code=response["X-Synthesis-Job"])
    assert job.stream and job.status == "queued"  # the worker (absent here) finishes it


def test_stream_text_limit(owner_client, voice, settings):
    settings.SYNTHESIS_STREAM_MAX_CHARACTERS = 10
    response = owner_client.post(STREAM, body("x" * 11, voice), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "text_too_long"
    assert not SynthesisJob.objects.exists()


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ("timeout", 503, "synthesis_unavailable"),
        ("failed", 502, "synthesis_failed"),
        ("broken", 503, "synthesis_unavailable"),
    ],
)
def test_stream_errors_before_audio_are_json_and_not_charged(
    owner, owner_client, voice, monkeypatch, error, status, code
):
    from synthesis.jobs.streaming import StreamFailed, StreamTimeout

    raised = {
        "timeout": StreamTimeout(),
        "failed": StreamFailed("The engine broke."),
        "broken": ConnectionError("redis went away"),
    }[error]
    if error == "failed":  # the worker failed (and refunded) the job before saying so
        monkeypatch.setattr(
            "synthesis.jobs.streaming.stream_encoded", _failing_after_job_fail(raised)
        )
    else:
        _fake_stream(monkeypatch, raised)
    response = owner_client.post(STREAM, body("Hello.", voice), format="json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    job = SynthesisJob.objects.get(code=response["X-Synthesis-Job"])
    assert job.status in ("cancelled", "failed")
    assert job.quota_state == "refunded"
    assert usage_of(owner).reserved == 0 and usage_of(owner).used == 0


def _failing_after_job_fail(exc):
    def fake(code, **options):
        job = SynthesisJob.objects.get(code=code)
        job_fail(job, error=str(exc))
        raise exc
        yield  # a generator, like the real one

    return fake


def test_stream_client_going_away_cancels_the_job(owner, owner_client, voice, monkeypatch):
    _fake_stream(monkeypatch, [b"ab", b"cd", b"ef"])
    response = owner_client.post(STREAM, body("Hello.", voice), format="json")
    stream = iter(response.streaming_content)
    assert next(stream) == b"ab"
    response._iterator.close()  # the server closes the body: the client went away
    job = SynthesisJob.objects.get(code=response["X-Synthesis-Job"])
    assert job.status == "cancelled" and job.quota_state == "refunded"
